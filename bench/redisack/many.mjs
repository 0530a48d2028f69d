// 40 servers, each with tools that announce a list change: 80 list_changed channels nobody has subscribed yet.
import { HTTMCP } from '../../dist/src/index.js';
export default function () {
  return Array.from({ length: 40 }, (_, i) => {
    const server = new HTTMCP({ name: `s${i}`, version: '1.0.0' });
    server.tool('trigger_tools', { description: 'tools/list_changed' }, async () => { await server.listChanged('tools'); return 'ok'; });
    server.tool('trigger_prompts', { description: 'prompts/list_changed' }, async () => { await server.listChanged('prompts'); return 'ok'; });
    server.prompt('p', { description: 'a prompt' }, () => 'p');
    return server;
  });
}
