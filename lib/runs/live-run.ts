// A run's view kept live from workflow events, drawn in place on a terminal: what `fedrad simulate`
// shows while it runs, with the renderer `fedrad run watch` uses.
import { headline, renderRunFrame } from './render-run.js';
import { applyEvent, buildRunView, type RunEvent, type RunView } from './run-view.js';

export interface LiveTerminal {
  isTTY: boolean;
  columns(): number;
  write(text: string): void;
  /** subscribes to resizes; returns the unsubscribe */
  onResize(fn: () => void): () => void;
}

export function stderrTerminal(): LiveTerminal {
  return {
    isTTY: Boolean(process.stderr.isTTY),
    columns: () => process.stderr.columns ?? 120,
    write: (t) => void process.stderr.write(t),
    onResize: (fn) => {
      process.stderr.on('resize', fn);
      return () => void process.stderr.off('resize', fn);
    },
  };
}

export class LiveRun {
  readonly view: RunView;
  private note = '';
  private lastDraw = 0;
  private timer?: NodeJS.Timeout;
  private readonly off: () => void;

  constructor(runId: string, sites: string[], roundsPlanned: number, private readonly term: LiveTerminal, private readonly opts: { quiet?: boolean; minIntervalMs?: number; now?: () => number } = {}) {
    this.view = buildRunView({ runId, source: 'local', status: 'running', sites, roundsPlanned, startedAt: new Date(opts.now?.() ?? Date.now()).toISOString() }, []);
    this.off = term.onResize(() => this.draw(true));
  }

  private now(): number {
    return this.opts.now?.() ?? Date.now();
  }

  /** the frame as it would be drawn now */
  frame(): string {
    return renderRunFrame(this.view, { width: this.term.columns(), now: this.now() }) + (this.note ? `\n\n${this.note}` : '');
  }

  private draw(force = false): void {
    if (this.opts.quiet || !this.term.isTTY) return;
    const t = this.now();
    if (!force && t - this.lastDraw < (this.opts.minIntervalMs ?? 200)) {
      this.timer ??= setTimeout(() => {
        this.timer = undefined;
        this.draw(true);
      }, this.opts.minIntervalMs ?? 200);
      return;
    }
    this.lastDraw = t;
    this.term.write(`\x1b[H\x1b[2J${this.frame()}\n`);
  }

  onEvent = (e: RunEvent): void => {
    applyEvent(this.view, e, this.now());
    if (e.type === 'round-finished' && !this.term.isTTY && !this.opts.quiet) this.term.write(`${headline(this.view)}\n`);
    this.draw(e.type !== 'job-started');
  };

  log = (message: string): void => {
    if (this.opts.quiet) return;
    if (!this.term.isTTY) return void this.term.write(`${message}\n`);
    this.note = message.slice(0, 200);
    this.draw(true);
  };

  stop(status: RunView['status']): void {
    if (this.timer) clearTimeout(this.timer);
    this.view.status = status;
    this.view.stoppedAt = new Date(this.now()).toISOString();
    this.draw(true);
    this.off();
  }
}
