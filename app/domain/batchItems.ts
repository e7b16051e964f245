import { z } from "zod";
import { BadRequestError, PayloadTooLargeError } from "~/domain/errors";
import { findUnstorableJson } from "~/domain/storableInput";
import { IdempotencyKey, TaskSlug, TriggerOptions } from "~/domain/triggerOptions";

/**
 * Batches as `@trigger.dev/sdk` 4.8.3 sends them (docs/api.md, "Batches"): the create body
 * (`CreateBatchRequestBody`), one NDJSON line per item (`BatchItemNDJSON`) and the older one-body
 * form (`BatchTriggerTaskV2RequestBody`). Items carry the single trigger's options, with its limits.
 */

export const CreateBatchBody = z.object({
  runCount: z.number().int().positive(),
  taskIdentifiers: z.array(z.string().min(1)).min(1).optional(),
  parentRunId: z.string().optional(),
  resumeParentOnCompletion: z.boolean().optional(),
  idempotencyKey: IdempotencyKey.optional(),
});
export type CreateBatchBody = z.output<typeof CreateBatchBody>;

export const BatchItemLine = z.object({
  index: z.number().int().nonnegative(),
  task: TaskSlug,
  payload: z.unknown().optional(),
  options: TriggerOptions.optional(),
});
export type BatchItemLine = z.output<typeof BatchItemLine>;

export const BatchTriggerV2Body = z.object({
  items: z.array(
    z.object({
      task: TaskSlug,
      payload: z.unknown().optional(),
      options: TriggerOptions.optional(),
    }),
  ),
  parentRunId: z.string().optional(),
  resumeParentOnCompletion: z.boolean().optional(),
});

/** More items than a batch may hold: a 400 before anything is written. */
export function checkBatchSize(runCount: number, maxItems: number, field = "runCount"): void {
  if (runCount > maxItems) {
    throw new BadRequestError(`A batch holds at most ${maxItems} items; ${field} is ${runCount}`, { field });
  }
}

/** One line of the stream as an item, or a 400 naming its line number (1-based). */
export function parseItemLine(text: string, lineNumber: number, runCount: number): BatchItemLine {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (error) {
    throw new BadRequestError(`Line ${lineNumber}: invalid JSON: ${(error as Error).message}`, { line: lineNumber });
  }
  const unstorable = findUnstorableJson(value);
  if (unstorable) {
    throw new BadRequestError(`Line ${lineNumber}: ${unstorable.path} ${unstorable.problem}`, { line: lineNumber, path: unstorable.path });
  }
  const parsed = BatchItemLine.safeParse(value);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    const path = issue.path.join(".");
    throw new BadRequestError(`Line ${lineNumber}: invalid item: ${path ? `${path}: ` : ""}${issue.message}`, {
      line: lineNumber,
      issues: parsed.error.issues.map((i) => ({ path: i.path.join("."), message: i.message })),
    });
  }
  if (parsed.data.index >= runCount) {
    throw new BadRequestError(`Line ${lineNumber}: index ${parsed.data.index} is outside the batch of ${runCount} items`, {
      line: lineNumber,
      field: "index",
    });
  }
  return parsed.data;
}

/**
 * Splits a byte stream into lines without holding more than one line (plus the chunk being read):
 * a line longer than `maxLineBytes` is a 400 naming its line; a stream longer than
 * `maxTotalBytes` a 413. Blank lines are skipped (and counted).
 */
export class NdjsonLineSplitter {
  private pending: Buffer[] = [];
  private pendingBytes = 0;
  private total = 0;
  private lineNumber = 0;

  constructor(
    private readonly maxLineBytes: number,
    private readonly maxTotalBytes: number,
  ) {}

  /** The complete lines of `chunk` (with the carried-over start), as [lineNumber, text] pairs. */
  push(chunk: Uint8Array): [number, string][] {
    this.total += chunk.byteLength;
    if (this.total > this.maxTotalBytes) throw new PayloadTooLargeError(this.maxTotalBytes);
    const lines: [number, string][] = [];
    let buffer = Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength);
    let newline = buffer.indexOf(10);
    while (newline !== -1) {
      this.take(buffer.subarray(0, newline), lines);
      buffer = buffer.subarray(newline + 1);
      newline = buffer.indexOf(10);
    }
    if (buffer.length > 0) {
      this.pendingBytes += buffer.length;
      this.checkLine(this.pendingBytes, this.lineNumber + 1);
      this.pending.push(Buffer.from(buffer));
    }
    return lines;
  }

  /** The last line, when the stream does not end with a newline. */
  end(): [number, string][] {
    const lines: [number, string][] = [];
    if (this.pendingBytes > 0) this.take(Buffer.alloc(0), lines);
    return lines;
  }

  private take(tail: Buffer, lines: [number, string][]) {
    this.lineNumber++;
    const size = this.pendingBytes + tail.length;
    this.checkLine(size, this.lineNumber);
    const line = this.pending.length ? Buffer.concat([...this.pending, tail], size) : tail;
    this.pending = [];
    this.pendingBytes = 0;
    const text = line.toString("utf8").trim();
    if (text) lines.push([this.lineNumber, text]);
  }

  private checkLine(size: number, line: number) {
    if (size > this.maxLineBytes) {
      throw new BadRequestError(`Line ${line} is longer than the limit of ${this.maxLineBytes} bytes`, { line });
    }
  }
}
