// Resend's Node SDK against a Roster server (RESEND_BASE_URL, RESEND_API_KEY), as a Resend user
// writes it: a webhook endpoint of its own (an HTTP server on 127.0.0.1) registered with
// resend.webhooks.create, every request checked with resend.webhooks.verify; a contact created by an
// import, one updated, one deleted; the legacy audience paths; 22 topics listed without a cursor.
// Prints what it saw as JSON; tests/compat asserts on it.
// Usage: node webhooks.mjs <people.csv>
import { createServer } from 'node:http';
import { readFileSync } from 'node:fs';
import { Resend } from 'resend';

const [csvPath] = process.argv.slice(2);
const resend = new Resend(process.env.RESEND_API_KEY);
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

function must(response, what) {
  if (response.error) throw new Error(`${what}: ${JSON.stringify(response.error)}`);
  return response.data;
}

let secret = null;
const received = [];
const rejected = [];
const server = createServer((req, res) => {
  let body = '';
  req.on('data', (chunk) => { body += chunk; });
  req.on('end', () => {
    try {
      const event = resend.webhooks.verify({
        payload: body,
        headers: {
          id: req.headers['svix-id'],
          timestamp: req.headers['svix-timestamp'],
          signature: req.headers['svix-signature'],
        },
        webhookSecret: secret,
      });
      received.push({ id: req.headers['svix-id'], event });
      res.writeHead(200).end('ok');
    } catch (e) {
      rejected.push(String(e));
      res.writeHead(400).end('bad signature');
    }
  });
});
await new Promise((r) => server.listen(0, '127.0.0.1', r));
const endpoint = `http://127.0.0.1:${server.address().port}/resend`;

const hook = must(await resend.webhooks.create({
  endpoint,
  events: ['contact.created', 'contact.updated', 'contact.deleted', 'contact_import.completed'],
  // Roster's choice (Resend's CSV imports send no contact events): one event per imported contact.
  import_events: 'each_contact',
}), 'webhooks.create');
secret = hook.signing_secret;
const got = must(await resend.webhooks.get(hook.id), 'webhooks.get');
const listed = must(await resend.webhooks.list(), 'webhooks.list');

// A contact created by an import.
const imp = must(await resend.contacts.imports.create({
  file: new File([readFileSync(csvPath)], 'people.csv', { type: 'text/csv' }),
  columnMap: { email: 'Email', firstName: 'First Name' },
}), 'contacts.imports.create');
let imported;
const importDeadline = Date.now() + 240_000;
do {
  await sleep(500);
  imported = must(await resend.contacts.imports.get(imp.id), 'contacts.imports.get');
} while (!['completed', 'failed'].includes(imported.status) && Date.now() < importDeadline);

// One updated (PATCH), one deleted.
const ann = must(await resend.contacts.get({ email: 'ann@example.com' }), 'contacts.get');
must(await resend.contacts.update({ email: 'ann@example.com', lastName: 'Lee' }), 'contacts.update');
const bob = must(await resend.contacts.get({ email: 'bob@example.com' }), 'contacts.get');
must(await resend.contacts.remove({ email: 'bob@example.com' }), 'contacts.remove');

// The legacy audience paths: an audience is a segment.
const audience = must(await resend.segments.create({ name: 'Old audience' }), 'segments.create');
const old = must(await resend.contacts.create({ audienceId: audience.id, email: 'cy@example.com', firstName: 'Cy' }), 'contacts.create(audienceId)');
const oldGot = must(await resend.contacts.get({ audienceId: audience.id, id: old.id }), 'contacts.get(audienceId)');
must(await resend.contacts.update({ audienceId: audience.id, id: old.id, lastName: 'Young' }), 'contacts.update(audienceId)');
const oldUpdated = must(await resend.contacts.get({ audienceId: audience.id, email: 'cy@example.com' }), 'contacts.get(audienceId)');
const oldRemoved = must(await resend.contacts.remove({ audienceId: audience.id, id: old.id }), 'contacts.remove(audienceId)');

// 22 topics, listed as the SDK lists them: no cursor, no limit.
for (let i = 0; i < 22; i++) must(await resend.topics.create({ name: `Topic ${i}`, defaultSubscription: 'opt_in' }), 'topics.create');
const topics = must(await resend.topics.list(), 'topics.list');

// The events: wait for the import's contacts, the update, the deletion and the import's own event.
const wanted = (r) => r.event.type === 'contact_import.completed'
  || (r.event.type === 'contact.deleted' && r.event.data.id === bob.id)
  || (r.event.type === 'contact.updated' && r.event.data.last_name === 'Lee');
const deadline = Date.now() + 180_000;
while (received.filter(wanted).length < 3 && Date.now() < deadline) await sleep(250);
const events = must(await resend.webhooks.events.list({ webhookId: hook.id }), 'webhooks.events.list');
server.close();

console.log(JSON.stringify({
  hook, got, listed, imported, ann_id: ann.id, bob_id: bob.id,
  received, rejected, events,
  audience: { old, oldGot, oldUpdated, oldRemoved },
  topics: topics.data.length, topics_has_more: topics.has_more,
}));
process.exit(0);
