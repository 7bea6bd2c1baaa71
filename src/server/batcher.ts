/**
 * Dynamic batching: requests that arrive together are answered in one call of `run`. A batch
 * starts when `maxBatch` requests wait or the oldest has waited `maxWaitMs`, and at most
 * `concurrency` batches run at once (one per inference worker).
 */
export class Batcher<I, O> {
  private readonly queue: { item: I; resolve: (o: O) => void; reject: (e: unknown) => void }[] = [];
  private running = 0;
  private timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly run: (items: I[]) => Promise<O[]>,
    private readonly opts: { maxBatch: number; maxWaitMs: number; concurrency: number; onBatch?: (size: number) => void },
  ) {}

  get depth(): number {
    return this.queue.length;
  }

  get inFlight(): number {
    return this.running;
  }

  submit(item: I): Promise<O> {
    return new Promise<O>((resolve, reject) => {
      this.queue.push({ item, resolve, reject });
      this.schedule();
    });
  }

  private schedule(): void {
    if (this.queue.length === 0 || this.running >= this.opts.concurrency) return;
    if (this.queue.length >= this.opts.maxBatch) {
      this.flush();
    } else {
      this.timer ??= setTimeout(() => {
        this.timer = undefined;
        this.flush();
      }, this.opts.maxWaitMs);
    }
  }

  private flush(): void {
    if (this.timer) {
      clearTimeout(this.timer);
      this.timer = undefined;
    }
    if (this.queue.length === 0 || this.running >= this.opts.concurrency) return;
    const batch = this.queue.splice(0, this.opts.maxBatch);
    this.running += 1;
    this.opts.onBatch?.(batch.length);
    this.run(batch.map((b) => b.item))
      .then((outs) => batch.forEach((b, i) => b.resolve(outs[i]!)))
      .catch((err) => batch.forEach((b) => b.reject(err)))
      .finally(() => {
        this.running -= 1;
        this.schedule();
      });
  }
}
