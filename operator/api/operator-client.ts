/** The client side of the operator API: an OperatorSession over HTTP. (Stub: filled in with the server.) */
import { BerthError } from '../model/errors.js';
import type { OperatorSession } from '../operator/session.js';

export function connectOperatorServer(address: { url: string; token: string }): OperatorSession {
  throw new BerthError('SERVER_UNREACHABLE', `no operator API client yet for ${address.url}`);
}
