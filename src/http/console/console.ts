/**
 * The web console (README "Watching Convoy"): queues, their consumers and which exclusive one is active,
 * groups with owners and why they wait (searched by prefix, one page at a time, so a million groups cost
 * the page no more than a hundred), dead-letter queues with retry. It polls the JSON API every second
 * while the tab is visible. Plain DOM: every value goes in through textContent, never as HTML.
 */

interface Counters {
  enqueued: number;
  delivered: number;
  acknowledged: number;
  redelivered: number;
  deadLettered: number;
  expired: number;
}

interface Consumer {
  id: string;
  connection: string | null;
  container: string | null;
  remote: string | null;
  link: string | null;
  address: string | null;
  priority: number;
  exclusive: boolean;
  active: boolean;
  credit: number;
  unsettled: number;
  groups: number;
}

interface QueueEntry {
  name: string;
  messages: number;
  inFlight: number;
  isDeadLetterQueue: boolean;
  groups: { total: number; owned: number; unassigned: number; blocked: number };
  counters: Counters;
  consumers: Consumer[];
}

interface GroupView {
  id: string;
  owner: string | null;
  queued: number;
  inFlight: number;
  state: string;
  moveTo: string | null;
  blockedReason: string | null;
  wakesOn: string | null;
}

interface GroupPage {
  total: number;
  groups: GroupView[];
  next: string | null;
  scanned: number;
}

const POLL_INTERVAL_MS = 1000;
const GROUPS_PER_PAGE = 50;

class Unauthorized extends Error {}

/** 410: the group a page started after was forgotten meanwhile. */
class PageGone extends Error {}

function element<T extends HTMLElement>(id: string): T {
  const found = document.getElementById(id);
  if (found === null) throw new Error(`the page has no #${id}`);
  return found as T;
}

async function api<T>(method: 'GET' | 'POST' | 'DELETE', path: string, body?: unknown): Promise<T> {
  const init: RequestInit = { method, headers: { 'x-convoy-console': '1' }, credentials: 'same-origin' };
  if (method !== 'GET') {
    init.headers = { 'x-convoy-console': '1', 'content-type': 'application/json' };
    init.body = JSON.stringify(body ?? {});
  }
  const response = await fetch(path, init);
  const answer = (await response.json()) as T & { error?: string };
  if (response.status === 401) throw new Unauthorized(answer.error ?? 'log in');
  if (response.status === 410) throw new PageGone(answer.error ?? 'page gone');
  if (!response.ok) throw new Error(answer.error ?? `HTTP ${response.status}`);
  return answer;
}

const q = encodeURIComponent;

function cell(text: string | number, className?: string): HTMLTableCellElement {
  const td = document.createElement('td');
  td.textContent = String(text);
  if (className !== undefined) td.className = className;
  return td;
}

function badge(text: string, className: string): HTMLSpanElement {
  const span = document.createElement('span');
  span.className = `badge ${className}`;
  span.textContent = text;
  return span;
}

function button(text: string, onClick: () => void): HTMLButtonElement {
  const b = document.createElement('button');
  b.type = 'button';
  b.textContent = text;
  b.addEventListener('click', (event) => {
    event.stopPropagation();
    onClick();
  });
  return b;
}

function replaceRows(table: HTMLTableElement, rows: HTMLTableRowElement[]): void {
  table.tBodies[0]!.replaceChildren(...rows);
}

class Console {
  private selected: string | null = null;
  private queues: QueueEntry[] = [];
  private prefix = '';
  /** `after` of each page shown so far: the current page starts after the last entry. */
  private pageStarts: (string | null)[] = [null];
  private nextPage: string | null = null;
  private refreshing = false;
  /** A refresh was asked for while one ran (a search typed, a page turned): run another after it. */
  private refreshAgain = false;

  start(): void {
    element<HTMLFormElement>('login-form').addEventListener('submit', (event) => {
      event.preventDefault();
      void this.login();
    });
    element('logout').addEventListener('click', () => void this.logout());
    element('purge').addEventListener('click', () => void this.purge());
    element('retry').addEventListener('click', () => void this.retry());
    element('delete').addEventListener('click', () => void this.deleteQueue());
    element('groups-first').addEventListener('click', () => this.firstPage());
    element('groups-prev').addEventListener('click', () => {
      if (this.pageStarts.length > 1) this.pageStarts.pop();
      void this.refresh();
    });
    element('groups-next').addEventListener('click', () => {
      if (this.nextPage !== null) this.pageStarts.push(this.nextPage);
      void this.refresh();
    });
    let debounce: number | undefined;
    element<HTMLInputElement>('group-prefix').addEventListener('input', (event) => {
      window.clearTimeout(debounce);
      debounce = window.setTimeout(() => {
        this.prefix = (event.target as HTMLInputElement).value;
        this.firstPage();
      }, 250);
    });
    window.addEventListener('hashchange', () => this.select(decodeURIComponent(location.hash.replace(/^#queue=/, '')) || null));
    document.addEventListener('visibilitychange', () => {
      if (!document.hidden) void this.refresh();
    });
    this.selected = location.hash.startsWith('#queue=') ? decodeURIComponent(location.hash.slice('#queue='.length)) : null;
    void this.refresh();
    window.setInterval(() => {
      if (!document.hidden) void this.refresh();
    }, POLL_INTERVAL_MS);
  }

  private firstPage(): void {
    this.pageStarts = [null];
    void this.refresh();
  }

  private select(queue: string | null): void {
    if (queue === this.selected) return;
    this.selected = queue;
    this.prefix = '';
    element('action').textContent = '';
    element<HTMLInputElement>('group-prefix').value = '';
    this.firstPage();
  }

  async refresh(): Promise<void> {
    if (this.refreshing) {
      this.refreshAgain = true;
      return;
    }
    this.refreshing = true;
    try {
      const overview = await api<{ user: string; queues: number; connections: number; consumers: number }>('GET', '/api/overview');
      this.showMain(overview.user);
      element('overview').textContent = `${overview.queues} queues · ${overview.consumers} consumers · ${overview.connections} connections`;
      this.queues = (await api<{ queues: QueueEntry[] }>('GET', '/api/queues')).queues;
      this.renderQueues();
      await this.renderSelected();
      element('status').textContent = `Updated ${new Date().toLocaleTimeString()}`;
    } catch (error) {
      if (error instanceof Unauthorized) this.showLogin();
      else element('status').textContent = `Cannot update: ${(error as Error).message}`;
    } finally {
      this.refreshing = false;
    }
    if (this.refreshAgain) {
      this.refreshAgain = false;
      await this.refresh();
    }
  }

  private showMain(user: string): void {
    element('login').hidden = true;
    element('main').hidden = false;
    element('who').textContent = user === 'anonymous' ? '' : user;
    element('logout').hidden = user === 'anonymous';
  }

  private showLogin(): void {
    element('main').hidden = true;
    element('login').hidden = false;
    element('logout').hidden = true;
    element('who').textContent = '';
  }

  private async login(): Promise<void> {
    const user = element<HTMLInputElement>('login-user').value;
    const password = element<HTMLInputElement>('login-password').value;
    try {
      await api('POST', '/api/login', { user, password });
      element<HTMLInputElement>('login-password').value = '';
      element('login-error').textContent = '';
      await this.refresh();
    } catch (error) {
      element('login-error').textContent = (error as Error).message;
    }
  }

  private async logout(): Promise<void> {
    await api('POST', '/api/logout');
    this.showLogin();
  }

  private renderQueues(): void {
    const rows = this.queues.map((queue) => {
      const tr = document.createElement('tr');
      tr.dataset.queue = queue.name;
      if (queue.name === this.selected) tr.className = 'selected';
      const name = cell(queue.name);
      if (queue.isDeadLetterQueue) name.append(badge('dead letters', 'dlq'));
      const c = queue.counters;
      tr.append(
        name,
        cell(queue.messages, 'n'),
        cell(queue.inFlight, 'n'),
        cell(queue.consumers.length, 'n'),
        cell(queue.groups.total, 'n'),
        cell(queue.groups.owned, 'n'),
        cell(queue.groups.unassigned, 'n'),
        cell(queue.groups.blocked, 'n'),
        cell(c.enqueued, 'n'),
        cell(c.delivered, 'n'),
        cell(c.acknowledged, 'n'),
        cell(c.redelivered, 'n'),
        cell(c.deadLettered, 'n'),
        cell(c.expired, 'n'),
      );
      tr.addEventListener('click', () => {
        location.hash = `queue=${q(queue.name)}`;
      });
      return tr;
    });
    replaceRows(element<HTMLTableElement>('queues'), rows);
  }

  private async renderSelected(): Promise<void> {
    const queue = this.queues.find((entry) => entry.name === this.selected);
    element('queue-detail').hidden = queue === undefined;
    if (queue === undefined) return;
    element('queue-name').textContent = queue.name;
    element('queue-badges').replaceChildren(...(queue.isDeadLetterQueue ? [badge('dead-letter queue', 'dlq')] : []));
    element('retry').hidden = !queue.isDeadLetterQueue;
    this.renderConsumers(queue);
    const after = this.pageStarts[this.pageStarts.length - 1];
    const params = new URLSearchParams({ prefix: this.prefix, limit: String(GROUPS_PER_PAGE) });
    if (after !== null && after !== undefined) params.set('after', after);
    let page: GroupPage;
    try {
      page = await api<GroupPage>('GET', `/api/queues/${q(queue.name)}/groups?${params}`);
    } catch (error) {
      if (!(error instanceof PageGone)) throw error;
      // The group this page started after is gone: back to the first page.
      this.pageStarts = [null];
      page = await api<GroupPage>('GET', `/api/queues/${q(queue.name)}/groups?prefix=${q(this.prefix)}&limit=${GROUPS_PER_PAGE}`);
    }
    this.nextPage = page.next;
    this.renderGroups(queue.name, page);
  }

  private renderConsumers(queue: QueueEntry): void {
    const rows = queue.consumers.map((consumer) => {
      const tr = document.createElement('tr');
      tr.dataset.consumer = consumer.id;
      const exclusive = cell(consumer.exclusive ? '' : 'no');
      if (consumer.exclusive) exclusive.append(consumer.active ? badge('active', 'active') : badge('waiting', 'waiting'));
      const connection = cell(consumer.connection ?? '-');
      if (consumer.connection !== null) {
        const id = consumer.connection;
        connection.append(button('Close', () => void this.closeConnection(id)));
      }
      tr.append(
        cell(consumer.id),
        exclusive,
        cell(consumer.priority, 'n'),
        cell(consumer.credit, 'n'),
        cell(consumer.unsettled, 'n'),
        cell(consumer.groups, 'n'),
        cell(consumer.container ?? '-'),
        cell(consumer.remote ?? '-'),
        cell(consumer.link ?? '-'),
        cell(consumer.address ?? '-'),
        connection,
      );
      return tr;
    });
    replaceRows(element<HTMLTableElement>('consumers'), rows);
  }

  private renderGroups(queueName: string, page: GroupPage): void {
    element('groups-total').textContent = `(${page.total} in the queue)`;
    const pageNumber = this.pageStarts.length;
    const shown = page.groups.length === 0 ? 'no groups match' : `${page.groups[0]!.id} … ${page.groups[page.groups.length - 1]!.id}`;
    const more = page.next !== null && page.groups.length < GROUPS_PER_PAGE ? ` (looked at ${page.scanned} groups; Next searches on)` : '';
    element('groups-page').textContent = `page ${pageNumber}: ${shown}${more}`;
    element<HTMLButtonElement>('groups-next').disabled = page.next === null;
    element<HTMLButtonElement>('groups-prev').disabled = pageNumber === 1;
    const rows = page.groups.map((group) => {
      const tr = document.createElement('tr');
      tr.dataset.group = group.id;
      if (group.blockedReason !== null) tr.className = 'blocked';
      const state = group.state === 'moving' ? `moving${group.moveTo === null ? ' (released)' : ` to ${group.moveTo}`}` : group.state;
      const why = group.blockedReason === null ? '-' : `${group.blockedReason} (until ${group.wakesOn})`;
      const actions = document.createElement('td');
      if (group.owner !== null && group.state !== 'closing' && !(group.state === 'moving' && group.moveTo === null)) {
        actions.append(button('Release', () => void this.release(queueName, group.id)));
      }
      tr.append(cell(group.id), cell(group.owner ?? '-'), cell(group.queued, 'n'), cell(group.inFlight, 'n'), cell(state), cell(why), actions);
      return tr;
    });
    replaceRows(element<HTMLTableElement>('groups'), rows);
  }

  private async act(question: string, action: () => Promise<string>): Promise<void> {
    if (!window.confirm(question)) return;
    try {
      element('action').textContent = await action();
    } catch (error) {
      element('action').textContent = `Failed: ${(error as Error).message}`;
    }
    await this.refresh();
  }

  private purge(): Promise<void> {
    const queue = this.selected!;
    return this.act(`Remove every queued message of ${queue}? Messages in flight are left to settle.`, async () => {
      const answer = await api<{ purged: number }>('POST', `/api/queues/${q(queue)}/purge`);
      return `${queue}: ${answer.purged} messages purged`;
    });
  }

  private retry(): Promise<void> {
    const queue = this.selected!;
    return this.act(`Move the dead letters of ${queue} back to the queues they came from?`, async () => {
      const answer = await api<{ retried: number; remaining: number }>('POST', `/api/queues/${q(queue)}/dlq-retry`);
      return `${queue}: ${answer.retried} messages moved back, ${answer.remaining} left`;
    });
  }

  private deleteQueue(): Promise<void> {
    const queue = this.selected!;
    return this.act(`Delete queue ${queue} with every message it holds? Its consumers are detached.`, async () => {
      const answer = await api<{ messages: number }>('DELETE', `/api/queues/${q(queue)}`);
      location.hash = '';
      return `${queue}: deleted with ${answer.messages} messages`;
    });
  }

  private release(queue: string, group: string): Promise<void> {
    return this.act(`Release group ${group} from its owner? It moves once its in-flight messages are settled.`, async () => {
      const answer = await api<{ released: string }>('POST', `/api/queues/${q(queue)}/groups/${q(group)}/release`);
      return answer.released === 'now' ? `${group}: released` : `${group}: released once its in-flight messages are settled`;
    });
  }

  private closeConnection(id: string): Promise<void> {
    return this.act(`Close connection ${id}? Its unsettled messages return to their queues.`, async () => {
      await api('DELETE', `/api/connections/${q(id)}`);
      return `${id}: closed`;
    });
  }
}

new Console().start();
