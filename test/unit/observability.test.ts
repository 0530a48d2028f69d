import { BackendMetrics, OTHER_TOOL, UNKNOWN_TOOL } from '../../src/observability/metrics.js';
import { parseStubStatus } from '../../src/observability/nchan-status.js';

const figures = () => ({ inflight: 2, sessionsClosed: 3, published: 5, retried: 1, failed: 0, retained: { inflight: 2, leaving: 1 } });

test('tool labels: unknown names never become label values, and each server has at most the cap', () => {
  const metrics = new BackendMetrics({ figures, maxToolsPerServer: 2 });
  expect(metrics.toolLabel('a', 'x', false)).toBe(UNKNOWN_TOOL);
  expect(metrics.toolLabel('a', 'one', true)).toBe('one');
  expect(metrics.toolLabel('a', 'two', true)).toBe('two');
  expect(metrics.toolLabel('a', 'three', true)).toBe(OTHER_TOOL);
  expect(metrics.toolLabel('a', 'one', true)).toBe('one');
  expect(metrics.toolLabel('b', 'three', true)).toBe('three'); // per server
});

test('the gateway figures keep their names and types; calls are counted by outcome', async () => {
  const metrics = new BackendMetrics({ figures });
  metrics.toolCallStarted('s', 't')('ok', 0.002);
  metrics.toolCallStarted('s', 't')('tool_error', 0.5);
  const running = metrics.toolCallStarted('s', 't');
  const text = await metrics.text();
  expect(text).toContain('# TYPE httmcp_publish_total counter\nhttmcp_publish_total 5\n');
  expect(text).toContain('# TYPE httmcp_inflight_requests gauge\nhttmcp_inflight_requests 2\n');
  expect(text).toContain('httmcp_sessions_closed_total 3\n');
  expect(text).toContain('httmcp_retained{kind="leaving"} 1\n');
  expect(text).toContain('httmcp_tool_calls_total{server="s",tool="t",outcome="ok"} 1\n');
  expect(text).toContain('httmcp_tool_errors_total{server="s",tool="t"} 1\n');
  expect(text).toContain('httmcp_tool_calls_in_flight{server="s",tool="t"} 1\n');
  expect(text).toContain('httmcp_tool_call_duration_seconds_bucket{le="0.0025",server="s",tool="t",outcome="ok"} 1\n');
  running('cancelled', 1);
  expect(await metrics.text()).toContain('httmcp_tool_calls_in_flight{server="s",tool="t"} 0\n');
  // Several backends in one process: registries of their own, no "already registered" clash.
  expect(() => new BackendMetrics({ figures })).not.toThrow();
});

test("nchan_stub_status text: counts, sizes in K become bytes, the version line is skipped", () => {
  const parsed = parseStubStatus(
    'total published messages: 12\nstored messages: 3\nshared memory used: 16K\nshared memory limit: 131072K\nchannels: 4\nsubscribers: 2\nnchan version: 1.3.7\n',
  );
  expect(Object.fromEntries(parsed)).toEqual({
    'total published messages': 12,
    'stored messages': 3,
    'shared memory used': 16 * 1024,
    'shared memory limit': 131072 * 1024,
    channels: 4,
    subscribers: 2,
  });
});

test('a status listener that does not answer reports httmcp_nchan_up 0 within the timeout', async () => {
  const metrics = new BackendMetrics({ figures, nchanStatus: { publishUrl: 'unix:/nonexistent/publish.sock', timeoutMs: 200 } });
  const text = await metrics.text();
  expect(text).toContain('httmcp_nchan_up 0\n');
  await metrics.close();
});
