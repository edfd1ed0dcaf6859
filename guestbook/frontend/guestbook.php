<?php
// The Guestbook's API, as in the original example:
//   GET /guestbook.php?cmd=set&key=K&value=V  SET K V on the master  -> {"message": "Updated"}
//   GET /guestbook.php?cmd=get&key=K          GET K from a replica   -> {"data": "..."}
// GET_HOSTS_FROM=env finds the two services by their Kubernetes environment variables
// (REDIS_MASTER_SERVICE_HOST/_PORT, REDIS_REPLICA_SERVICE_HOST/_PORT, or the older
// REDIS_SLAVE_* names); anything else uses the DNS names redis-master and redis-replica.
// Failures answer HTTP 500 with {"error": "..."}.

ini_set('display_errors', '0');
header('Content-Type: application/json');
header('Cache-Control: no-store');

const REDIS_TIMEOUT_SECONDS = 2.0;

function answer(int $status, string $body): void
{
    http_response_code($status);
    print($body . "\n");
}

function json_string(string $value): string
{
    return json_encode($value, JSON_UNESCAPED_SLASHES | JSON_UNESCAPED_UNICODE | JSON_INVALID_UTF8_SUBSTITUTE);
}

function fail(int $status, string $message): void
{
    answer($status, '{"error": ' . json_string($message) . '}');
}

/** [host, port] of a service: 'master' or 'replica'. */
function redis_address(string $role): array
{
    if (getenv('GET_HOSTS_FROM') !== 'env') {
        return [$role === 'master' ? 'redis-master' : 'redis-replica', 6379];
    }
    $prefixes = $role === 'master' ? ['REDIS_MASTER'] : ['REDIS_REPLICA', 'REDIS_SLAVE'];
    foreach ($prefixes as $prefix) {
        $host = getenv($prefix . '_SERVICE_HOST');
        if ($host !== false && $host !== '') {
            $port = getenv($prefix . '_SERVICE_PORT');
            return [$host, ($port !== false && $port !== '') ? (int) $port : 6379];
        }
    }
    throw new RuntimeException(
        'GET_HOSTS_FROM=env but ' . $prefixes[0] . '_SERVICE_HOST is not set'
    );
}

function connect(string $role): Redis
{
    [$host, $port] = redis_address($role);
    $redis = new Redis();
    try {
        if (!$redis->connect($host, $port, REDIS_TIMEOUT_SECONDS)) {
            throw new RedisException('connection failed');
        }
        $redis->setOption(Redis::OPT_READ_TIMEOUT, REDIS_TIMEOUT_SECONDS);
    } catch (RedisException $e) {
        throw new RuntimeException("redis-$role at $host:$port: " . $e->getMessage(), 0, $e);
    }
    return $redis;
}

$cmd = $_GET['cmd'] ?? null;
$key = $_GET['key'] ?? null;
if (!is_string($cmd) || !in_array($cmd, ['get', 'set'], true)) {
    fail(400, 'cmd must be get or set');
    return;
}
if (!is_string($key) || $key === '') {
    fail(400, 'key is required');
    return;
}

try {
    if ($cmd === 'set') {
        $value = $_GET['value'] ?? '';
        if (!is_string($value)) {
            fail(400, 'value must be a string');
            return;
        }
        connect('master')->set($key, $value);
        answer(200, '{"message": "Updated"}');
    } else {
        $value = connect('replica')->get($key);
        answer(200, '{"data": ' . json_string($value === false ? '' : (string) $value) . '}');
    }
} catch (Throwable $e) {
    error_log('guestbook: ' . $e->getMessage());
    fail(500, $e->getMessage());
}
