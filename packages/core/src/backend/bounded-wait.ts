/**
 * Waits for `work` at most `ms` milliseconds. Resolves `true` when it resolved in time, rejects
 * as it does when it rejected in time, and resolves `false` once `ms` have passed first (a later
 * rejection is then ignored). For disposal, which must not wait forever on a backend whose run,
 * release or createSession never settles.
 */
export function waitAtMost(work: Promise<unknown>, ms: number): Promise<boolean> {
  return new Promise<boolean>((resolve, reject) => {
    const timer = setTimeout(() => resolve(false), ms);
    work.then(
      () => {
        clearTimeout(timer);
        resolve(true);
      },
      (cause: unknown) => {
        clearTimeout(timer);
        reject(cause);
      },
    );
  });
}
