/** Builds git repositories of generated manifests for the load benchmarks, with the real git. */
import { execFileSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';

export const FILES_PER_FOLDER = 100;

export function git(cwd: string, ...args: string[]): string {
  return execFileSync('git', args, {
    cwd,
    encoding: 'utf8',
    maxBuffer: 1 << 30,
    env: {
      ...process.env,
      GIT_AUTHOR_NAME: 'bench',
      GIT_AUTHOR_EMAIL: 'bench@example.invalid',
      GIT_COMMITTER_NAME: 'bench',
      GIT_COMMITTER_EMAIL: 'bench@example.invalid',
    },
  });
}

/** A manifest of realistic size (about 35 lines), varied by index across the three kinds. */
export function manifestText(index: number, generation = 0): string {
  const name = `app-${index}`;
  const image = `registry.example/app-${index % 17}:1.${generation}`;
  switch (index % 3) {
    case 0:
      return `apiVersion: v1
kind: Pod
metadata:
  name: ${name}
  labels:
    app: ${name}
    tier: backend
  annotations:
    berth.io/owner: bench
spec:
  containers:
    - name: main
      image: ${image}
      command: ["/bin/server"]
      args: ["--port", "8080"]
      env:
        - name: MODE
          value: "production"
        - name: POD_NAME
          valueFrom:
            fieldRef:
              fieldPath: metadata.name
      ports:
        - name: http
          containerPort: 8080
      resources:
        requests:
          cpu: 100m
          memory: 64Mi
        limits:
          cpu: "0.5"
          memory: 128Mi
      livenessProbe:
        httpGet:
          path: /healthz
          port: http
`;
    case 1:
      return `apiVersion: v1
kind: ReplicationController
metadata:
  name: ${name}
spec:
  replicas: ${(index % 5) + 1}
  selector:
    app: ${name}
  template:
    metadata:
      labels:
        app: ${name}
        tier: frontend
    spec:
      containers:
        - name: web
          image: ${image}
          ports:
            - name: http
              containerPort: 80
          readinessProbe:
            tcpSocket:
              port: 80
            initialDelaySeconds: 2
          volumeMounts:
            - name: cache
              mountPath: /cache
      volumes:
        - name: cache
          emptyDir: {}
`;
    default:
      return `apiVersion: v1
kind: Service
metadata:
  name: ${name}
  labels:
    app: ${name}
    generation: g${generation}
spec:
  selector:
    app: ${name}
  ports:
    - name: http
      port: 80
      targetPort: http
    - name: metrics
      port: 9090
      targetPort: 9090
`;
  }
}

export function manifestPath(index: number): string {
  const folder = `team-${String(Math.floor(index / FILES_PER_FOLDER)).padStart(3, '0')}`;
  return `${folder}/app-${index}.yaml`;
}

/** A repository with `count` manifests in folders of FILES_PER_FOLDER; returns its path. */
export function createManifestRepo(root: string, count: number): string {
  const dir = path.join(root, `repo-${count}`);
  mkdirSync(dir, { recursive: true });
  git(dir, 'init', '-q', '-b', 'main');
  // No background auto-gc racing the explicit gc below or the timed reloads.
  git(dir, 'config', 'gc.auto', '0');
  for (let i = 0; i < count; i += 1) {
    const file = path.join(dir, manifestPath(i));
    mkdirSync(path.dirname(file), { recursive: true });
    writeFileSync(file, manifestText(i));
  }
  git(dir, 'add', '-A');
  git(dir, 'commit', '-q', '-m', `${count} manifests`);
  // Packed, as a repository that has been cloned or gc'd is.
  git(dir, 'gc', '-q');
  return dir;
}

/** Changes one manifest and commits; returns the new commit id. */
export function commitOneChange(dir: string, index: number, generation: number): string {
  writeFileSync(path.join(dir, manifestPath(index)), manifestText(index, generation));
  git(dir, 'commit', '-q', '-am', `change ${index} to generation ${generation}`);
  return git(dir, 'rev-parse', 'HEAD').trim();
}
