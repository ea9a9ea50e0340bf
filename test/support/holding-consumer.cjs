// A consumer process for crash tests: attaches to a queue with the given credit, never settles, and
// prints each message body as a JSON line. The test kills it with SIGKILL.
'use strict';
const { create_container } = require('rhea');

const [port, queue, credit] = process.argv.slice(2);
const connection = create_container().connect({ host: '127.0.0.1', port: Number(port), reconnect: false });
const receiver = connection.open_receiver({ source: queue, autoaccept: false, credit_window: 0 });
receiver.on('receiver_open', () => {
  receiver.add_credit(Number(credit));
  process.stdout.write(JSON.stringify({ attached: true }) + '\n');
});
receiver.on('message', (ctx) => process.stdout.write(JSON.stringify({ body: ctx.message.body, group: ctx.message.group_id }) + '\n'));
setTimeout(() => process.exit(2), 60_000).unref();
