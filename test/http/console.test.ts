import { mkdirSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { chromium, type BrowserContext, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import type { RunningBroker } from '../../src/broker/server';
import { startTestBroker } from '../support/broker';
import { connect, receive, sendAll, waitFor, type TestClient } from '../support/client';
import { EXAMPLE_ROLES, writeTestUsers } from '../support/users';

/**
 * The web console in a real browser: Debian's chromium, driven by playwright-core (.ci/run installs it;
 * a missing browser fails the test). It must show a queue, its consumers and the owner of a group,
 * follow the owner when it changes, and carry an operator action through to the broker.
 * Screenshots for the README: CONVOY_CONSOLE_SCREENSHOTS=interop/console/screenshots npx vitest run test/http/console.test.ts
 */
const CHROMIUM = '/usr/bin/chromium';
const SCREENSHOTS = process.env.CONVOY_CONSOLE_SCREENSHOTS;
/** The page polls every second; on a busy machine a round trip can take a while. */
const POLL = { timeout: 15_000 };

/** Headless Debian chromium with a fresh profile; playwright's own browser download is not used. */
function launchChromium(): Promise<BrowserContext> {
  return chromium.launchPersistentContext(mkdtempSync(join(tmpdir(), 'convoy-chromium-')), {
    executablePath: CHROMIUM,
    headless: true,
    viewport: { width: 1400, height: 900 },
    args: [
      '--headless',
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
    ],
  });
}

describe('web console in headless chromium', () => {
  let broker: RunningBroker;
  let client: TestClient;
  let browser: BrowserContext;
  let page: Page;
  const dialogs: string[] = [];

  beforeAll(async () => {
    broker = await startTestBroker({ http: { port: 0 } });
    client = await connect(broker.port!, { container_id: 'order-service' });
    browser = await launchChromium();
    page = await browser.newPage();
    page.on('dialog', (dialog) => {
      dialogs.push(dialog.message());
      void dialog.accept();
    });
  });

  afterAll(async () => {
    await browser?.close();
    await client?.close();
    await broker?.stop();
  });

  async function screenshot(name: string): Promise<void> {
    if (SCREENSHOTS === undefined) return;
    mkdirSync(resolve(SCREENSHOTS), { recursive: true });
    await page.screenshot({ path: resolve(SCREENSHOTS, `${name}.png`) });
  }

  const groupRow = (id: string) => page.locator(`#groups tbody tr[data-group="${id}"]`);

  test('shows a queue, its consumers and the owner of a group; follows the owner when a release moves the group', async () => {
    const sender = await client.openSender('orders');
    await sendAll(sender, [
      ...['ACME', 'GLOBEX', 'INITECH'].map((group) => ({ body: `${group}-1`, group_id: group })),
      { body: 'ACME-2', group_id: 'ACME' },
    ]);
    const workerA = await client.openReceiver('orders', { name: 'worker-a' });
    const [acme1] = await receive(workerA, 1, 2000, 1);
    expect(acme1!.message.body).toBe('ACME-1');
    const workerB = await client.openReceiver('orders?consumer.priority=0', { name: 'worker-b' });
    const atB = receive(workerB, 3, 5000, 10);
    await waitFor(() => broker.runtime.state.queues.get('orders')!.groups.get('GLOBEX')?.owner?.id !== undefined, 'GLOBEX to be owned');
    const ownerA = broker.runtime.state.queues.get('orders')!.groups.get('ACME')!.owner!.id;

    await page.goto(`http://127.0.0.1:${broker.httpPort}/`);
    await page.locator('#queues tbody tr[data-queue="orders"]').click();
    await expect.poll(() => page.locator('#queue-name').textContent(), POLL).toBe('orders');
    await expect.poll(() => page.locator('#consumers tbody tr').count(), POLL).toBe(2);
    const consumerRows = await page.locator('#consumers tbody tr').allTextContents();
    expect(consumerRows.join('\n')).toContain('worker-a');
    expect(consumerRows.join('\n')).toContain('worker-b');
    expect(consumerRows.join('\n')).toContain('order-service');

    await page.locator('#group-prefix').fill('AC');
    await expect.poll(() => page.locator('#groups tbody tr').count(), POLL).toBe(1);
    await expect.poll(() => groupRow('ACME').locator('td').nth(1).textContent(), POLL).toBe(ownerA);
    expect(await groupRow('ACME').textContent()).toContain('owner-has-no-credit');
    await screenshot('queue-and-groups');

    // The action: release ACME from worker-a. It moves once ACME-1 is settled, to worker-b.
    await groupRow('ACME').getByRole('button', { name: 'Release' }).click();
    await expect.poll(() => groupRow('ACME').locator('td').nth(4).textContent(), POLL).toBe('moving (released)');
    expect(dialogs.at(-1)).toContain('Release group ACME');
    expect(await groupRow('ACME').textContent()).toContain('awaiting-settlement-before-move');
    await screenshot('group-released');
    acme1!.delivery.accept();
    const fromB = await atB;
    expect(fromB.map((r) => r.message.body)).toContain('ACME-2');
    const ownerB = broker.runtime.state.queues.get('orders')!.groups.get('ACME')!.owner!.id;
    expect(ownerB).not.toBe(ownerA);
    await expect.poll(() => groupRow('ACME').locator('td').nth(1).textContent(), POLL).toBe(ownerB);
    workerA.close();
    workerB.close();
  });

  test('a dead-letter queue is marked and its Retry button sends the messages back', async () => {
    const sender = await client.openSender('payments');
    await sendAll(sender, [{ body: 'p1' }, { body: 'p2' }]);
    const receiver = await client.openReceiver('payments', { name: 'payment-worker' });
    for (const got of await receive(receiver, 2, 2000, 2)) got.delivery.reject();
    receiver.close();
    await waitFor(() => broker.runtime.state.queues.get('DLQ')?.queuedCount === 2, 'the dead letters');
    await page.locator('#queues tbody tr[data-queue="DLQ"]').click();
    await expect.poll(() => page.locator('#queue-badges').textContent(), POLL).toBe('dead-letter queue');
    await screenshot('dead-letter-queue');
    await page.locator('#retry').click();
    await expect.poll(() => page.locator('#action').textContent(), POLL).toContain('2 messages moved back');
    expect(broker.runtime.state.queues.get('payments')!.queuedCount).toBe(2);
    await expect.poll(() => page.locator('#queues tbody tr[data-queue="payments"] td').nth(1).textContent(), POLL).toBe('2');
  });

  test('20,000 groups: one page at a time, searched by prefix, paged forward and back', async () => {
    const sender = await client.openSender('many');
    const batch = 5000;
    for (let start = 0; start < 20_000; start += batch) {
      await sendAll(sender, Array.from({ length: batch }, (_, i) => ({ body: 'x', group_id: `account-${String(start + i).padStart(6, '0')}` })));
    }
    await page.locator('#queues tbody tr[data-queue="many"]').click();
    await page.locator('#group-prefix').fill('');
    await expect.poll(() => page.locator('#groups-total').textContent(), POLL).toBe('(20000 in the queue)');
    await expect.poll(() => page.locator('#groups tbody tr').count(), POLL).toBe(50);
    await page.locator('#group-prefix').fill('account-0199');
    await expect.poll(() => page.locator('#groups tbody tr').first().getAttribute('data-group'), POLL).toBe('account-019900');
    await page.locator('#groups-next').click();
    await expect.poll(() => page.locator('#groups tbody tr').first().getAttribute('data-group'), POLL).toBe('account-019950');
    expect(await page.locator('#groups-next').isDisabled()).toBe(true);
    await page.locator('#groups-prev').click();
    await expect.poll(() => page.locator('#groups tbody tr').first().getAttribute('data-group'), POLL).toBe('account-019900');
    await screenshot('many-groups');
  });
});

describe('web console login, with users configured', () => {
  test('the login form lets a manage user in, refuses a wrong password, and logs out', async () => {
    const usersFile = await writeTestUsers({ ops: { password: 'ops-secret', roles: ['admin'] }, alice: { password: 'alice-secret', roles: ['app'] } });
    const broker = await startTestBroker({ http: { port: 0 }, auth: { usersFile, failedLoginDelayMs: 0 }, roles: EXAMPLE_ROLES });
    const browser = await launchChromium();
    try {
      const page = await browser.newPage();
      await page.goto(`http://127.0.0.1:${broker.httpPort}/`);
      await expect.poll(() => page.locator('#login').isVisible(), POLL).toBe(true);
      expect(await page.locator('#main').isVisible()).toBe(false);
      await page.locator('#login-user').fill('alice');
      await page.locator('#login-password').fill('alice-secret');
      await page.locator('#login-form button[type=submit]').click();
      await expect.poll(() => page.locator('#login-error').textContent(), POLL).toBe('user "alice" has no manage permission');
      await page.locator('#login-user').fill('ops');
      await page.locator('#login-password').fill('ops-secret');
      await page.locator('#login-form button[type=submit]').click();
      await expect.poll(() => page.locator('#main').isVisible(), POLL).toBe(true);
      expect(await page.locator('#who').textContent()).toBe('ops');
      await page.locator('#logout').click();
      await expect.poll(() => page.locator('#login').isVisible(), POLL).toBe(true);
      expect((await page.request.get(`http://127.0.0.1:${broker.httpPort}/api/queues`, { headers: { 'x-convoy-console': '1' } })).status()).toBe(401);
    } finally {
      await browser.close();
      await broker.stop();
    }
  });
});
