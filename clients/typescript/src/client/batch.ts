// encryptMany / decryptMany / rewrapMany: a list of requests cut into consecutive batch calls
// within the client's limits (items per call, bytes per call counted exactly as the server
// counts them), sent one after the other, answered with one result per input item in input
// order — the response, or the item's own typed error. Shared contract: batch-contract.md
// (issue #15); the Rust and Python clients do the same.

import type { ItemError } from "../gen/rekey/v1/errors_pb.js";
import { errorFromItem, InternalError, type Input, type RekeyError, TooLargeError } from "./errors.js";

/** The limits one batch call stays within. */
export interface BatchLimits {
  readonly maxItems: number;
  readonly maxBytes: number;
}

/** How a list of items is sent: the batches (input indexes, consecutive) and the items sent in none. */
export interface BatchPlan {
  /** Each batch's items, as indexes into the input, in input order. */
  readonly batches: number[][];
  /** Items whose bytes alone exceed `maxBytes`: never sent. */
  readonly oversized: number[];
}

/**
 * Cuts items of the given sizes (bytes as the server counts them) into consecutive batches of
 * at most `maxItems` items and `maxBytes` bytes. An item above `maxBytes` on its own is left out
 * (reported in `oversized`); it does not end the batch around it.
 */
export function planBatches(sizes: readonly number[], limits: BatchLimits): BatchPlan {
  const batches: number[][] = [];
  const oversized: number[] = [];
  let current: number[] = [];
  let bytes = 0;
  sizes.forEach((size, index) => {
    if (size > limits.maxBytes) {
      oversized.push(index);
      return;
    }
    if (current.length > 0 && (current.length >= limits.maxItems || bytes + size > limits.maxBytes)) {
      batches.push(current);
      current = [];
      bytes = 0;
    }
    current.push(index);
    bytes += size;
  });
  if (current.length > 0) {
    batches.push(current);
  }
  return { batches, oversized };
}

/** The byte length of an optional bytes field of a request given as a plain object. */
export function byteLength(field: Uint8Array | undefined): number {
  return field === undefined ? 0 : field.byteLength;
}

/** One result of a batch response: the generated `*BatchResult` messages all have this shape. */
export interface BatchResultShape<R> {
  result: { case: "response"; value: R } | { case: "error"; value: ItemError } | { case: undefined; value?: undefined };
}

/**
 * Sends `items` in batches as `limits` allow, one call after the other (each through `send`,
 * a normal call with its deadline and retries), and answers one result per item in input
 * order. The error of a whole call is thrown: no partial list.
 */
export async function sendMany<T, R>(
  rpc: string,
  items: readonly T[],
  bytesOf: (item: T) => number,
  limits: BatchLimits,
  input: Input,
  send: (batch: T[]) => Promise<readonly BatchResultShape<R>[]>,
): Promise<Array<R | RekeyError>> {
  const results = new Array<R | RekeyError>(items.length);
  const plan = planBatches(items.map(bytesOf), limits);
  for (const index of plan.oversized) {
    results[index] = new TooLargeError(
      `item ${index} is ${bytesOf(items[index] as T)} bytes, above the batch limit of ${limits.maxBytes} bytes`,
    );
  }
  for (const batch of plan.batches) {
    const answered = await send(batch.map((index) => items[index] as T));
    if (answered.length !== batch.length) {
      throw new InternalError(`${rpc} answered ${answered.length} results for ${batch.length} items`, "INTERNAL");
    }
    batch.forEach((index, position) => {
      const result = (answered[position] as BatchResultShape<R>).result;
      switch (result.case) {
        case "response":
          results[index] = result.value;
          break;
        case "error":
          results[index] = errorFromItem(result.value, input);
          break;
        default:
          results[index] = new InternalError(`${rpc} answered neither a response nor an error for item ${index}`, "INTERNAL");
      }
    });
  }
  return results;
}
