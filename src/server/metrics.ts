import client from 'prom-client';

/** Prometheus metrics of one server: requests, latency, batch sizes, queue depth, tensors, process. */
export class ServerMetrics {
  readonly registry = new client.Registry();
  readonly requests: client.Counter<'route' | 'method' | 'status'>;
  readonly latency: client.Histogram<'route'>;
  readonly batchSize: client.Histogram;

  constructor(engine: () => { queueDepth(): number; tensorCount(): number; workerRssBytes(): number } | undefined) {
    client.collectDefaultMetrics({ register: this.registry, prefix: 'vqa_' });
    this.requests = new client.Counter({
      name: 'vqa_http_requests_total',
      help: 'HTTP requests by route, method and status',
      labelNames: ['route', 'method', 'status'],
      registers: [this.registry],
    });
    this.latency = new client.Histogram({
      name: 'vqa_http_request_duration_seconds',
      help: 'HTTP request latency',
      labelNames: ['route'],
      buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
      registers: [this.registry],
    });
    this.batchSize = new client.Histogram({ name: 'vqa_batch_size', help: 'questions per forward pass', buckets: [1, 2, 4, 8, 16, 32, 64], registers: [this.registry] });
    new client.Gauge({
      name: 'vqa_queue_depth',
      help: 'questions waiting for a batch',
      registers: [this.registry],
      collect() {
        this.set(engine()?.queueDepth() ?? 0);
      },
    });
    new client.Gauge({
      name: 'vqa_tensors',
      help: 'live tfjs tensors where the model runs',
      registers: [this.registry],
      collect() {
        this.set(engine()?.tensorCount() ?? 0);
      },
    });
    new client.Gauge({
      name: 'vqa_inference_workers_resident_memory_bytes',
      help: 'resident memory of the inference worker processes, summed, as of their last answer',
      registers: [this.registry],
      collect() {
        this.set(engine()?.workerRssBytes() ?? 0);
      },
    });
  }
}
