/**
 * quarantine-child: the entry of a quarantine process (forked by quarantine.ts, never imported).
 * It runs exactly one job, of a handler module given as argv[2], and sends back its result or its
 * error; the child that forked it holds the job's lease and settles it. It never opens the queue,
 * and it exits as soon as it has answered, or when its parent goes away.
 */
import { retryInSecondsOf } from '../cache/errors.js';
import { loadHandler } from './handler.js';
import type { QuarantineError, QuarantineReply, QuarantineRequest } from './protocol.js';

function send(reply: QuarantineReply): Promise<void> {
  return new Promise((resolve, reject) => {
    if (!process.send) return reject(new Error('a quarantine process needs an IPC channel'));
    try {
      process.send(reply, undefined, {}, (error) => (error ? reject(error) : resolve()));
    } catch (error) {
      reject(error);
    }
  });
}

/** A thrown value as it can cross the boundary: an Error as its name, message and stack. */
function transferable(error: unknown): QuarantineError {
  if (error instanceof Error) {
    const retryInSeconds = retryInSecondsOf(error);
    return {
      name: error.name,
      message: error.message,
      stack: error.stack ?? error.message,
      ...(retryInSeconds === undefined ? {} : { retryInSeconds }),
    };
  }
  let text: string;
  try {
    text = typeof error === 'string' ? error : (JSON.stringify(error) ?? String(error));
  } catch {
    text = String(error);
  }
  return { name: 'Error', message: text, stack: text };
}

async function run(request: Extract<QuarantineRequest, { type: 'run' }>, signal: AbortSignal) {
  const handler = await loadHandler(process.argv[2] ?? '');
  // The job's timeout counts from here, not from the fork: a process starts slowly on a busy machine.
  await send({ type: 'started' });
  let reply: QuarantineReply;
  try {
    const value = await handler(request.payload, {
      id: request.id,
      key: request.key,
      attempt: request.attempt,
      signal,
    });
    reply = { type: 'result', value };
  } catch (error) {
    reply = { type: 'error', error: transferable(error) };
  }
  try {
    await send(reply);
  } catch (error) {
    // The result cannot cross the process boundary, so it could not be stored either: say why,
    // as storing it would (a TypeError naming structured clone).
    if (reply.type !== 'result') throw error;
    const refused = new TypeError(
      `invalid value: it cannot be serialized by structured clone (${(error as Error).message})`,
    );
    await send({ type: 'error', error: transferable(refused) });
  }
}

const controller = new AbortController();
process.on('disconnect', () => process.exit(0));
process.on('message', (request: QuarantineRequest) => {
  if (request?.type === 'abort') {
    const reason = new Error(request.message);
    reason.name = request.name;
    controller.abort(reason);
  } else if (request?.type === 'run') {
    run(request, controller.signal).then(
      // Exit explicitly: a handler may leave timers or sockets open.
      () => process.exit(0),
      (error: unknown) => {
        process.stderr.write(
          `diskcache quarantine ${process.pid}: ${(error as Error)?.stack ?? String(error)}\n`,
        );
        process.exit(1);
      },
    );
  }
});
