/**
 * Awaits `work` for at most `ms`; past it rejects with Error(message) and runs `onTimeout` (e.g. to
 * forget a shared request that hangs). The timer is cleared either way.
 */
export async function withTimeout<T>(
  work: Promise<T>,
  ms: number,
  message: string,
  onTimeout?: () => void,
): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  try {
    return await Promise.race([
      work,
      new Promise<never>((_, reject) => {
        timer = setTimeout(() => {
          onTimeout?.();
          reject(new Error(message));
        }, ms);
      }),
    ]);
  } finally {
    clearTimeout(timer);
  }
}
