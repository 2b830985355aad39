// One round trip of Resend's Node SDK against a Roster server (RESEND_BASE_URL, RESEND_API_KEY),
// written as a Resend user would write it. Prints what it saw as JSON; tests/compat asserts on it.
// Usage: node roundtrip.mjs <people.csv> <column map JSON>
import { readFileSync } from 'node:fs';
import { basename } from 'node:path';
import { Resend } from 'resend';

const [csvPath, columnMapJson] = process.argv.slice(2);
const resend = new Resend(process.env.RESEND_API_KEY);
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

function must(response, what) {
  if (response.error) throw new Error(`${what}: ${JSON.stringify(response.error)}`);
  return response.data;
}

const segment = must(await resend.segments.create({ name: 'Customers' }), 'segments.create');
for (let i = 0; i < 11; i++) must(await resend.segments.create({ name: `Extra ${i}` }), 'segments.create');
const topic = must(await resend.topics.create({ name: 'Launches', defaultSubscription: 'opt_out' }), 'topics.create');

const created = must(await resend.contacts.imports.create({
  file: new File([readFileSync(csvPath)], basename(csvPath), { type: 'text/csv' }),
  columnMap: JSON.parse(columnMapJson),
  onConflict: 'upsert',
  segments: [{ id: segment.id }],
  topics: [{ id: topic.id, subscription: 'opt_in' }],
}), 'contacts.imports.create');

let imported;
const deadline = Date.now() + 420_000; // as SERVE_WAIT_SECONDS in tests/helpers.py
do {
  await sleep(500);
  imported = must(await resend.contacts.imports.get(created.id), 'contacts.imports.get');
} while (!['completed', 'failed'].includes(imported.status) && Date.now() < deadline);

const contact = must(await resend.contacts.get({ email: 'ann@example.com' }), 'contacts.get');
// What a Resend program reads: each property's value and type.
const plan = { value: contact.properties.plan.value, type: contact.properties.plan.type };
const topicsBefore = must(await resend.contacts.topics.list({ email: 'ann@example.com' }), 'contacts.topics.list');
must(await resend.contacts.topics.update({
  email: 'ann@example.com', topics: [{ id: topic.id, subscription: 'opt_out' }],
}), 'contacts.topics.update');
const topicsAfter = must(await resend.contacts.topics.list({ id: contact.id }), 'contacts.topics.list');
const segments = must(await resend.segments.list(), 'segments.list');
const members = must(await resend.contacts.list({ segmentId: segment.id }), 'contacts.list');

console.log(JSON.stringify({
  import: imported, contact, plan, topics_before: topicsBefore, topics_after: topicsAfter, segments,
  segment_id: segment.id, topic_id: topic.id,
  members: members.data.map((c) => c.email.toLowerCase()).sort(),
}));
