// Suites that may have to skip as a whole (no binaries, no Chromium, not root). node:test counts a
// suite skipped through `describe(name, { skip })` as neither a test nor a skip: the summary says
// "skipped 0" while none of its tests ran. So such a suite takes its functions from `skippable`:
// with a reason, every test is registered skipped (and counted), and no hook is registered, since
// node runs a suite's hooks even when all its tests skip.
import * as nodeTest from 'node:test';
import type test from 'node:test';

type Fn = test.TestFn;
type SuiteFn = test.SuiteFn;
type HookFn = test.HookFn;
type TestOptions = test.TestOptions;
type HookOptions = test.HookOptions;

/** A reason to skip (`string`), or none (`false`, `undefined`, `''`). */
export type SkipReason = string | false | undefined;

/**
 * `describe`, `it` and the hooks of node:test for suites that skip whole when `reason` is given:
 * `const { describe, it, before, after } = skippable(reason)`. The suite bodies still run (to
 * register their tests), so they should do no work outside hooks and tests.
 */
export function skippable(reason: SkipReason) {
  const skip = reason || false;
  function it(name: string, fn: Fn): void;
  function it(name: string, options: TestOptions, fn: Fn): void;
  function it(name: string, a: Fn | TestOptions, b?: Fn): void {
    const [options, fn] = typeof a === 'function' ? [{}, a] : [a, b!];
    void nodeTest.it(name, skip ? { ...options, skip } : options, fn);
  }
  function describe(name: string, fn: SuiteFn): void;
  function describe(name: string, options: TestOptions, fn: SuiteFn): void;
  function describe(name: string, a: SuiteFn | TestOptions, b?: SuiteFn): void {
    const [options, fn] = typeof a === 'function' ? [{}, a] : [a, b!];
    void nodeTest.describe(name, options, fn);
  }
  const hook =
    (register: (fn: HookFn, options?: HookOptions) => void) =>
    (fn: HookFn, options?: HookOptions): void => {
      if (!skip) register(fn, options);
    };
  return {
    describe,
    it,
    test: it,
    before: hook(nodeTest.before),
    after: hook(nodeTest.after),
    beforeEach: hook(nodeTest.beforeEach),
    afterEach: hook(nodeTest.afterEach),
  };
}
