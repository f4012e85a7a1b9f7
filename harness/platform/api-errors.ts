/**
 * Typed errors for every adapter: a failed call says which call, what was expected and what came
 * (the API's status and message, or the network error), and keeps the cause, so the CLI can print
 * one clear line and map it to the environment exit code instead of a stack trace.
 */
import { ApiError } from '../core/errors.ts';

/** What came back instead of an answer: the status (if the API answered) and a one-line text. */
export interface ErrorText {
  status?: number;
  text: string;
}

/** An AWS SDK v3 error as text. */
export function awsErrorText(error: unknown): ErrorText {
  const e = error as Error & { $metadata?: { httpStatusCode?: number }; code?: string };
  const status = e.$metadata?.httpStatusCode;
  return { status, text: status ? `${status} ${e.name}: ${e.message}` : `${e.code ?? e.name}: ${e.message}` };
}

/** Wraps every async method of `port`; errors become `ApiError`s naming the service, the call and its string arguments. */
export function withApiErrors<T extends object>(service: string, endpoint: string | undefined, port: T, describe: (error: unknown) => ErrorText): T {
  const wrapped: Record<string, unknown> = {};
  for (const [name, value] of Object.entries(port)) {
    if (typeof value !== 'function') {
      wrapped[name] = value;
      continue;
    }
    wrapped[name] = async (...args: unknown[]) => {
      try {
        return await (value as (...a: unknown[]) => Promise<unknown>)(...args);
      } catch (error) {
        if (error instanceof ApiError) throw error;
        const { status, text } = describe(error);
        const call = `${service} ${name}(${args.filter((a) => typeof a === 'string').join(', ')})${endpoint ? ` at ${endpoint}` : ''}`;
        throw new ApiError(`${call}: expected an answer, got ${text}`, status, { cause: error });
      }
    };
  }
  return wrapped as T;
}
