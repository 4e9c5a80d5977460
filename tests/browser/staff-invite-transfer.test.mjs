// Browser test: three consoles (a volunteer, a professional, a key person)
// and Node visitors. The volunteer invites a colleague into a chat, once by
// role and once by a person chosen from the colleagues online; the visitor
// sees both aliases, all three write and everyone sees every message. Then
// the volunteer transfers each chat (by person, by role): the chat moves to
// the other console and the volunteer's panel shows that it left.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { connectVisitor } from '../lib/brugd.mjs';
import {
  startEnv, loginConsole, becomeAvailable, assertText, until, shot, messageTexts, STEP_MS,
} from './staff-harness.mjs';

const PW = 'a long test password 2';
const vera = { user: 'vera', alias: 'Vera', roles: ['volunteer'], langs: ['nl'], maxChats: 2, password: PW };
const pieter = { user: 'pieter', alias: 'Pieter', roles: ['professional'], langs: ['nl', 'ar'], maxChats: 2, password: PW };
const kim = { user: 'kim', alias: 'Kim', roles: ['keyperson'], langs: ['nl'], maxChats: 2, password: PW };

let env;
let failed = false;
let ctx;
const pages = {};

before(async () => {
  env = await startEnv({ staff: [vera, pieter, kim] });
  ctx = {};
  for (const [name, account] of Object.entries({ vera, pieter, kim })) {
    ctx[name] = await env.browser.newContext({ viewport: { width: name === 'kim' ? 360 : 1000, height: 900 }, locale: 'en-GB' });
    const page = await ctx[name].newPage();
    env.watch(page, name);
    await loginConsole(env, page, account, 'en');
    pages[name] = page;
  }
  await becomeAvailable(pages.vera);
});

after(async () => {
  for (const c of Object.values(ctx || {})) await c.close().catch(() => {});
  if (env) await env.close(failed);
});

// A Node visitor that says hello in Dutch; resolves with the client.
async function newVisitor() {
  const v = await connectVisitor(env.brug);
  v.send({ type: 'hello', lang: 'nl' });
  await v.next('welcome');
  return v;
}

// The chat panel of a console for the chat the visitor is in.
function panelOf(page, chatId) {
  return page.locator(`[data-testid="chat"][data-chat="${chatId}"]`);
}

async function acceptOffer(page, kind, from) {
  let offer = page.locator(`[data-testid="offer"][data-kind="${kind}"]`);
  if (from) offer = offer.filter({ hasText: from });
  await offer.waitFor({ state: 'visible', timeout: STEP_MS });
  await offer.getByTestId('offer-accept').click();
}

// Open the invite or transfer dialog of a panel and send it by role or by
// person (the alias in the colleagues list).
async function ask(page, panel, kind, by) {
  await panel.getByTestId(`chat-${kind}`).click();
  const dialog = page.getByTestId('request-dialog');
  await dialog.waitFor({ state: 'visible', timeout: STEP_MS });
  if (by.role) {
    await dialog.getByTestId('request-by-role').check();
    await dialog.getByTestId('request-role').selectOption(by.role);
  } else {
    await dialog.getByTestId('request-by-user').check();
    const person = dialog.locator(`[data-testid="request-person"][data-alias="${by.alias}"]`);
    await person.waitFor({ state: 'attached', timeout: STEP_MS });
    await person.check();
    const en = env.bundles.en.staff;
    const label = en[kind === 'invite' ? 'inviteBy' : 'transferTo'].replace('{alias}', by.alias);
    assert.equal(await dialog.getByTestId('request-submit').textContent(), label, 'the button names the person');
  }
  await shot(page, `request-${kind}-${by.role || by.alias}`);
  await dialog.getByTestId('request-submit').click();
  await dialog.waitFor({ state: 'hidden', timeout: STEP_MS });
}

async function visitorSays(v, text) {
  v.send({ type: 'msg', text });
  await v.waitFor((f) => f.type === 'msg' && f.from === 'visitor' && f.text === text);
}

async function staffSays(page, panel, text) {
  await panel.getByTestId('chat-composer').fill(text);
  await panel.getByTestId('chat-send').click();
  void page;
}

async function allSee(panels, v, texts) {
  for (const [name, panel] of Object.entries(panels)) {
    await until(async () => {
      const shown = await messageTexts(panel);
      return texts.every((t) => shown.includes(t));
    }, async () => `${name} does not show all of ${JSON.stringify(texts)}: ${JSON.stringify(await messageTexts(panel))}`);
  }
  const got = () => v.frames.filter((f) => f.type === 'msg').map((f) => f.text);
  await until(() => texts.every((t) => got().includes(t)),
    () => `the visitor does not have all of ${JSON.stringify(texts)}: ${JSON.stringify(got())}`);
}

async function runScenario(t, { invite, transfer, invitee, newOwner, visitorNo }) {
  const en = env.bundles.en.staff;
  const v = await newVisitor();
  try {
    // Vera takes the chat.
    await acceptOffer(pages.vera, 'chat');
    const joinedVera = await v.next('joined');
    assert.equal(joinedVera.staff.alias, 'Vera');
    // Invites and transfers go to colleagues who are available; they
    // become so only now, so that the visitor went to Vera.
    for (const name of ['pieter', 'kim']) {
      if (!(await pages[name].getByTestId('available').isChecked())) await becomeAvailable(pages[name]);
    }
    const chatId = await pages.vera.locator('[data-testid="chat"]').last().getAttribute('data-chat');
    const veraPanel = panelOf(pages.vera, chatId);
    await visitorSays(v, `Hallo, ik ben bezoeker ${visitorNo}`);
    await staffSays(pages.vera, veraPanel, `Welkom, ik ben Vera (${visitorNo})`);

    // Vera invites; the colleague's console gets an invitation from Vera.
    await ask(pages.vera, veraPanel, 'invite', invite);
    await assertText(veraPanel.getByTestId('chat-messages'), en.invited);
    const inviteePage = pages[invitee.user];
    await acceptOffer(inviteePage, 'invite', en.offerInvite.replace('{from}', 'Vera'));
    await until(() => v.frames.some((f) => f.type === 'joined' && f.staff.alias === invitee.alias),
      'the visitor sees the second alias join');
    const inviteePanel = panelOf(inviteePage, chatId);
    await inviteePanel.waitFor({ state: 'visible', timeout: STEP_MS });
    // The invitee got the conversation so far.
    await allSee({ invitee: inviteePanel }, v, [`Hallo, ik ben bezoeker ${visitorNo}`]);
    await assertText(veraPanel.getByTestId('chat-messages'), en.joined.replace('{alias}', invitee.alias));

    // All three write; everyone sees everything.
    const m1 = `Vraag van bezoeker ${visitorNo}`;
    const m2 = `Antwoord van Vera ${visitorNo}`;
    const m3 = `Aanvulling van ${invitee.alias} ${visitorNo}`;
    await visitorSays(v, m1);
    await staffSays(pages.vera, veraPanel, m2);
    await staffSays(inviteePage, inviteePanel, m3);
    await allSee({ vera: veraPanel, [invitee.user]: inviteePanel }, v, [m1, m2, m3]);
    const fromStaff = v.frames.filter((f) => f.type === 'msg' && f.from === 'staff').map((f) => f.alias);
    assert.ok(fromStaff.includes('Vera') && fromStaff.includes(invitee.alias), `visitor sees both aliases on messages: ${fromStaff}`);
    // The colleague typing shows in Vera's panel with the alias.
    await inviteePanel.getByTestId('chat-composer').fill('…');
    await assertText(veraPanel.getByTestId('chat-typing'), invitee.alias);
    await inviteePanel.getByTestId('chat-composer').fill('');
    await shot(pages.vera, `three-way-${visitorNo}-vera`);
    await shot(inviteePage, `three-way-${visitorNo}-${invitee.user}`);

    // Vera transfers the chat: it moves to the new owner's console.
    await ask(pages.vera, veraPanel, 'transfer', transfer);
    const ownerPage = pages[newOwner.user];
    await acceptOffer(ownerPage, 'transfer', en.offerTransfer.replace('{from}', 'Vera'));
    const ownerPanel = panelOf(ownerPage, chatId);
    await ownerPanel.waitFor({ state: 'visible', timeout: STEP_MS });
    await allSee({ [newOwner.user]: ownerPanel }, v, [m1, m2, m3]);
    await until(() => v.frames.some((f) => f.type === 'joined' && f.staff.alias === newOwner.alias),
      'the visitor sees the new owner join');
    await until(() => v.frames.some((f) => f.type === 'left' && f.staff.alias === 'Vera'), 'the visitor sees Vera leave');
    // Vera's panel says she left and takes no more input.
    await assertText(veraPanel.getByTestId('chat-state'), en.youLeft);
    assert.ok(await veraPanel.getByTestId('chat-composer').isDisabled(), 'Vera can no longer write');
    assert.equal(await veraPanel.getByTestId('chat-end').textContent(), en.close);
    await shot(pages.vera, `transferred-${visitorNo}-vera`);
    await shot(ownerPage, `transferred-${visitorNo}-${newOwner.user}`);

    // The chat goes on without Vera.
    const m4 = `Na de overdracht ${visitorNo}`;
    await staffSays(ownerPage, ownerPanel, m4);
    await allSee({ [newOwner.user]: ownerPanel, [invitee.user]: inviteePanel }, v, [m4]);
    assert.ok(!(await messageTexts(veraPanel)).includes(m4), 'Vera no longer receives the chat');
    // Closing Vera's panel removes it.
    await veraPanel.getByTestId('chat-end').click();
    await veraPanel.waitFor({ state: 'detached', timeout: STEP_MS });
  } finally {
    v.close();
  }
  void t;
}

test('invite by role, transfer by person', async (t) => {
  try {
    // The colleagues list arrives and names both others.
    await until(() => pages.vera.evaluate(() => true), 'page');
    await runScenario(t, {
      invite: { role: 'professional' }, invitee: pieter,
      transfer: { alias: 'Kim' }, newOwner: kim,
      visitorNo: 1,
    });
    assert.deepEqual(env.problems, [], 'no page errors, CSP violations or missing labels');
  } catch (e) {
    failed = true;
    for (const [name, page] of Object.entries(pages)) await shot(page, `invite-failed-${name}`).catch(() => {});
    t.diagnostic(`brugd log:\n${env.brug.logs().join('\n')}`);
    throw e;
  }
});

test('invite by person, transfer by role', async (t) => {
  try {
    await runScenario(t, {
      invite: { alias: 'Kim' }, invitee: kim,
      transfer: { role: 'professional' }, newOwner: pieter,
      visitorNo: 2,
    });
    assert.deepEqual(env.problems, [], 'no page errors, CSP violations or missing labels');
  } catch (e) {
    failed = true;
    for (const [name, page] of Object.entries(pages)) await shot(page, `invite2-failed-${name}`).catch(() => {});
    t.diagnostic(`brugd log:\n${env.brug.logs().join('\n')}`);
    throw e;
  }
});
