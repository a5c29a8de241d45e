// Turns ateapi errors into Temporal failures the workflow can act on: retryable ones keep the
// activity's retry policy; capacity and permanent ones stop retrying and carry a type.
import { ApplicationFailure } from '@temporalio/common';
import { classifyAteapiError, describeAteapiError } from '../substrate/errors';
import { NO_CAPACITY, PERMANENT } from './failure-types';

export function toActivityFailure(err: unknown, action: string): ApplicationFailure {
  const message = `${action}: ${describeAteapiError(err)}`;
  switch (classifyAteapiError(err)) {
    case 'capacity':
      return ApplicationFailure.nonRetryable(message, NO_CAPACITY);
    case 'permanent':
      return ApplicationFailure.nonRetryable(message, PERMANENT);
    case 'retryable':
      return ApplicationFailure.retryable(message, 'Retryable');
  }
}

/** Runs one ateapi call, translating its failure. */
export async function ateapiCall<T>(action: string, call: () => Promise<T>): Promise<T> {
  try {
    return await call();
  } catch (err) {
    throw toActivityFailure(err, action);
  }
}
