/**
 * One of the drain processes of the collections benchmark (forked by collections-drain.ts with
 * tsx): opens the Deque in argv[2], says 'ready', and on every 'go' pops from the left until the
 * deque is empty and sends back the item numbers it got. 'exit' closes the deque and ends it.
 * It times nothing: the parent measures the wall time of the whole drain.
 */
import { Deque } from '../src/index.js';
import { itemNumber } from './collections-workload.js';

const deque = new Deque<string>(process.argv[2]);

process.on('message', (message) => {
  if (message !== 'go') {
    deque.close();
    process.disconnect();
    return;
  }
  const items: number[] = [];
  for (let value = deque.popLeft(); value !== undefined; value = deque.popLeft())
    items.push(itemNumber(value));
  process.send!({ items });
});

process.send!('ready');
