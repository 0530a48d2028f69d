import {
  ProtocolErrorCode,
  type JSONRPCMessage,
  type JSONRPCRequest,
  type MessageExtraInfo,
  type RequestId,
  type Transport,
  type TransportSendOptions,
} from '@modelcontextprotocol/server';
import { TransportMiddleware } from './transport-middleware.js';

/** The list methods and the field of their result that holds the list. */
const LISTS: Record<string, string> = {
  'tools/list': 'tools',
  'prompts/list': 'prompts',
  'resources/list': 'resources',
  'resources/templates/list': 'resourceTemplates',
};

/** Default byte budget of one list page (see {@link PaginatingTransport}): 1 MiB. */
export const DEFAULT_PAGE_BYTES = 1024 * 1024;

/** Bytes of JSON of list items, remembered per item object (prebuilt lists send the same objects every time). */
const itemBytes = new WeakMap<object, number>();

/**
 * Cursor pagination for the SDK server's list methods, as transport middleware.
 *
 * The SDK's `McpServer` answers every list in full and ignores `cursor`. This wrapper sits
 * between it and the real transport: it takes the cursor off an incoming list request, then cuts
 * the full answer to one page and adds `nextCursor` when more follow. A page holds at most
 * `pageSize` items and at most `pageBytes` bytes of JSON of items (but always one item, so the
 * list moves on), which bounds every answer however large the items are. Cursors are opaque
 * offsets; a list that changes between pages may shift by the change, as with any offset cursor.
 */
export class PaginatingTransport extends TransportMiddleware {
  /** Requests being answered: id -> which list, from where. */
  private readonly pages = new Map<RequestId, { field: string; offset: number }>();

  constructor(
    inner: Transport,
    private readonly pageSize: number,
    private readonly pageBytes: number = DEFAULT_PAGE_BYTES,
  ) {
    super(inner);
    if (!Number.isInteger(pageSize) || pageSize < 1) throw new RangeError(`page size must be a positive integer, got ${pageSize}`);
    if (!Number.isInteger(pageBytes) || pageBytes < 1) throw new RangeError(`page bytes must be a positive integer, got ${pageBytes}`);
  }

  override send(message: JSONRPCMessage, options?: TransportSendOptions): Promise<void> {
    if (this.pages.size > 0 && ('result' in message || 'error' in message)) {
      const id = (message as { id: RequestId }).id;
      const page = this.pages.get(id);
      if (page) {
        // Forgotten on an error reply too: an entry no reply ends would stay for good.
        this.pages.delete(id);
        if ('result' in message) return this.inner.send({ ...message, result: this.cut(message.result, page) }, options);
      }
    }
    return this.inner.send(message, options);
  }

  protected override receive(message: JSONRPCMessage, extra?: MessageExtraInfo): void {
    const request = 'method' in message && 'id' in message ? (message as JSONRPCRequest) : undefined;
    const field = request ? LISTS[request.method] : undefined;
    if (!request || field === undefined) {
      // A cancelled request gets no reply at all (the SDK sends none): forget its page here.
      if (this.pages.size > 0 && 'method' in message && message.method === 'notifications/cancelled') {
        this.pages.delete((message.params as { requestId?: RequestId } | undefined)?.requestId as RequestId);
      }
      return this.onmessage?.(message, extra);
    }
    const params = (request.params ?? {}) as { cursor?: unknown };
    const offset = params.cursor === undefined ? 0 : decodeCursor(params.cursor);
    if (offset === undefined) {
      void this.inner.send({ jsonrpc: '2.0', id: request.id, error: { code: ProtocolErrorCode.InvalidParams, message: 'Invalid cursor: pass back a nextCursor this server gave' } });
      return;
    }
    this.pages.set(request.id, { field, offset });
    const { cursor: _cursor, ...rest } = params;
    this.onmessage?.({ ...request, params: rest }, extra);
  }

  private cut(result: Record<string, unknown>, { field, offset }: { field: string; offset: number }): Record<string, unknown> {
    const list = result[field];
    if (!Array.isArray(list)) return result;
    let end = offset;
    let bytes = 0;
    while (end < list.length && end - offset < this.pageSize) {
      bytes += sizeOf(list[end]);
      if (bytes > this.pageBytes && end > offset) break;
      end++;
    }
    const page: Record<string, unknown> = { ...result, [field]: list.slice(offset, end) };
    if (end < list.length) page.nextCursor = encodeCursor(end);
    else delete page.nextCursor;
    return page;
  }
}

/**
 * Tells pagination the size of a list item (bytes of JSON) measured elsewhere, so a prebuilt
 * list (OpenAPIMCP's tools) is not measured again on its first listing.
 */
export function rememberItemBytes(item: object, bytes: number): void {
  itemBytes.set(item, bytes);
}

function sizeOf(item: unknown): number {
  if (typeof item !== 'object' || item === null) return Buffer.byteLength(JSON.stringify(item) ?? '');
  let bytes = itemBytes.get(item);
  if (bytes === undefined) {
    bytes = Buffer.byteLength(JSON.stringify(item));
    itemBytes.set(item, bytes);
  }
  return bytes;
}

function encodeCursor(offset: number): string {
  return Buffer.from(`o:${offset}`).toString('base64url');
}

function decodeCursor(cursor: unknown): number | undefined {
  if (typeof cursor !== 'string') return undefined;
  const match = /^o:(\d{1,9})$/.exec(Buffer.from(cursor, 'base64url').toString('utf8'));
  return match ? Number(match[1]) : undefined;
}
