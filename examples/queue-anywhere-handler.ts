/**
 * The handler of examples/queue-anywhere.ts: one job = one word; its length is the result,
 * stored under the job's key (the word) in the queue's results.
 */
export default function wordLength(word: string): number {
  return word.length;
}
