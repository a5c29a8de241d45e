// Turns any failure of a Substrate or template-store call into the Temporal failure the workflow
// acts on: retryable ones keep the activity's retry policy; capacity and permanent ones stop
// retrying at once and carry their type (src/workflows/failure-types.ts).
import { ApplicationFailure, CancelledFailure } from '@temporalio/common';
import { classifyFailure, describeFailure } from '../substrate/errors';
import { NO_CAPACITY, PERMANENT, RETRYABLE } from '../workflows/failure-types';

export function toActivityFailure(err: unknown, action: string): ApplicationFailure {
  if (err instanceof ApplicationFailure) return err;
  const message = `${action}: ${describeFailure(err)}`;
  switch (classifyFailure(err)) {
    case 'capacity':
      return ApplicationFailure.nonRetryable(message, NO_CAPACITY);
    case 'permanent':
      return ApplicationFailure.nonRetryable(message, PERMANENT);
    case 'retryable':
      return ApplicationFailure.retryable(message, RETRYABLE);
  }
}

/** Runs one call, translating its failure. */
export async function attempt<T>(action: string, call: () => Promise<T>): Promise<T> {
  try {
    return await call();
  } catch (err) {
    // The activity was cancelled (the workflow moved on, or the worker stops): that is no failure
    // of the call, and Temporal must see the cancellation as such.
    if (err instanceof CancelledFailure) throw err;
    throw toActivityFailure(err, action);
  }
}

/** A failure that retrying cannot fix, with a message that says what to do. */
export const permanent = (message: string) => ApplicationFailure.nonRetryable(message, PERMANENT);
