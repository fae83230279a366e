/**
 * One redis-server and one ioredis client for a test file: started before its tests, stopped
 * after them. Call inside the file's `describe.skipIf(!findRedisServer())` block.
 */
import { Redis } from 'ioredis';
import { afterAll, beforeAll } from 'vitest';
import { RedisServer, type RedisServerOptions } from './redis-server.js';

/** What the tests read: the server and a client on it (set once `beforeAll` ran). */
export interface RedisForFile {
  readonly server: RedisServer;
  readonly client: Redis;
}

export function redisForFile(options: RedisServerOptions = {}): RedisForFile {
  const state: { server?: RedisServer; client?: Redis } = {};
  beforeAll(async () => {
    state.server = await RedisServer.start(options);
    state.client = new Redis(state.server.port, '127.0.0.1');
  });
  afterAll(async () => {
    await state.client?.quit();
    await state.server?.stop();
  });
  return {
    get server() {
      return state.server!;
    },
    get client() {
      return state.client!;
    },
  };
}
