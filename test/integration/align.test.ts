import { strict as assert } from 'node:assert';
import { existsSync, promises as fs } from 'node:fs';
import * as path from 'node:path';
import * as vscode from 'vscode';
import { readPreferences } from '../../src/core/data/preferences';
import type { AlignRunResult } from '../../src/host/commands/align';
import type { GptLabApi } from '../../src/host/extension';
import { AlignPanel } from '../../src/host/panels/alignPanel';
import { RankPanel } from '../../src/host/panels/rankPanel';

async function api(): Promise<GptLabApi> {
  const ext = vscode.extensions.getExtension<GptLabApi>('gpt-lab.gpt-lab');
  assert.ok(ext);
  return ext.activate();
}

async function openScratch(name: string, text: string): Promise<vscode.TextEditor> {
  const folder = vscode.workspace.workspaceFolders![0].uri;
  const uri = vscode.Uri.joinPath(folder, 'src', name);
  await vscode.workspace.fs.writeFile(uri, new TextEncoder().encode(text));
  const editor = await vscode.window.showTextDocument(await vscode.workspace.openTextDocument(uri));
  const end = editor.document.positionAt(text.length);
  editor.selection = new vscode.Selection(end, end);
  return editor;
}

const lines = async (file: string) => (await fs.readFile(file, 'utf8')).split('\n').filter((l) => l.trim()).length;

describe('Stage 3 in the extension: rank, preferences, reward model, DPO, PPO, alignment panel (real extension host)', function () {
  this.timeout(8 * 60_000);
  let activeBefore = 'base';

  before(async () => {
    const { lab } = await api();
    if (!lab.info || lab.info.step < 150) {
      const r = await vscode.commands.executeCommand('gptLab.train', { preset: 'tiny', steps: 150 });
      assert.ok(r, 'trained a model for the alignment tests');
    }
    await fs.rm(lab.preferences.file, { force: true });
    await lab.refresh();
    activeBefore = lab.versions.active;
  });

  // The suites after this one expect the workspace and the versions as they were: only the trained base.
  after(async () => {
    const { lab } = await api();
    RankPanel.current?.dispose();
    AlignPanel.current?.dispose();
    for (const name of ['dpo-2', 'ppo-1', 'dpo-1', 'reward-1'])
      if (lab.versions.get(name)) await lab.deleteVersion(name);
    await lab.useVersion(activeBefore);
    const folder = vscode.workspace.workspaceFolders![0].uri.fsPath;
    for (const f of [
      'src/rank.ts',
      'src/rank2.ts',
      'src/rank3.ts',
      'prefs-in.jsonl',
      'prefs-out.jsonl',
      lab.preferences.file,
    ])
      await fs.rm(path.resolve(folder, f), { force: true });
    await vscode.commands.executeCommand('workbench.action.closeAllEditors');
    await lab.refresh();
  });

  it('Rank Completions: K=4 distinct completions of the text before the cursor; Submit writes the 6 pairs', async () => {
    const { lab } = await api();
    await openScratch('rank.ts', 'export function area(r: number): number {\n  return ');
    const panel = await vscode.commands.executeCommand<RankPanel>('gptLab.rankCompletions', { count: 4, seed: 7 });
    assert.ok(panel, 'the board opened');
    const shown = panel.completions;
    assert.equal(shown.length, 4, `four distinct completions: ${JSON.stringify(shown)}`);
    assert.equal(new Set(shown.map((c) => c.trimEnd())).size, 4);
    // The user put the last one first and the first one last (what the board sends on Submit).
    const s = await panel.submit(shown, [3, 1, 2, 0], [false, false, false, false]);
    assert.ok(s);
    assert.equal(s.pairs.length, 6);
    const { records, problems } = await readPreferences(lab.preferences.file);
    assert.deepEqual(problems, []);
    assert.equal(records.length, 6, 'C(4,2) = 6 lines');
    assert.equal(await lines(lab.preferences.file), 6);
    const prompt = 'export function area(r: number): number {\n  return ';
    assert.ok(records.every((r) => r.prompt === prompt));
    assert.equal(records.filter((r) => r.chosen === shown[3]).length, 3, 'the best is chosen over the other three');
    assert.equal(records.filter((r) => r.rejected === shown[0]).length, 3, 'the worst is rejected by the other three');
    assert.deepEqual(records[0].ranking, { completions: shown, ranks: [3, 1, 2, 0] });
    assert.equal(lab.preferences.counts.pairs, 6);
    assert.equal(lab.preferences.counts.prompts, 1);
  });

  it('a tie gives no pair between the tied two; an edited answer ranks first; a forged completion is refused', async () => {
    const { lab } = await api();
    await openScratch('rank2.ts', 'const total = items.reduce((sum, x) => ');
    const panel = await vscode.commands.executeCommand<RankPanel>('gptLab.rankCompletions', { count: 3, seed: 11 });
    const shown = panel.completions;
    assert.equal(shown.length, 3);
    assert.equal(await panel.submit(['forged', shown[1], shown[2]], [0, 1, 2], [false, false, false]), undefined);
    // Completion 1 was edited into a better answer (first); 0 and 2 tie below it.
    const s = await panel.submit([shown[0], 'sum + x, 0);', shown[2]], [1, 0, 1], [false, true, false]);
    assert.ok(s);
    assert.equal(s.pairs.length, 2);
    assert.ok(s.pairs.every((p) => p.chosen === 'sum + x, 0);'));
    assert.equal(await lines(lab.preferences.file), 8);
  });

  it('the hover of a shown suggestion offers Rank Completions there; its link opens the board on that prompt', async () => {
    const { completions } = await api();
    const editor = await openScratch('rank3.ts', 'export function greet2(): void {\n    console.\n}\n');
    const doc = editor.document;
    const at = new vscode.Position(1, 12);
    editor.selection = new vscode.Selection(at, at);
    // The editor asks for a suggestion at the cursor (its request comes after the cursor's events).
    await vscode.commands.executeCommand('editor.action.inlineSuggest.trigger');
    for (let i = 0; i < 200 && !completions.shownAt(doc, at); i++) await new Promise((r) => setTimeout(r, 100));
    if (!completions.shownAt(doc, at)) {
      const token = new vscode.CancellationTokenSource().token;
      const invoke = { triggerKind: vscode.InlineCompletionTriggerKind.Invoke, selectedCompletionInfo: undefined };
      assert.equal((await completions.provideInlineCompletionItems(doc, at, invoke, token)).length, 1);
    }
    assert.equal(completions.shownAt(doc, at)?.character, 12, 'a suggestion is shown at the cursor');
    let seen: string[] = [];
    const rankLink = async (pos: vscode.Position) => {
      const hovers = await vscode.commands.executeCommand<vscode.Hover[]>('vscode.executeHoverProvider', doc.uri, pos);
      const texts = hovers.flatMap((h) => h.contents.map((c) => (typeof c === 'string' ? c : c.value)));
      seen = texts;
      const m = texts.map((t) => /command:gptLab\.rankCompletions\?([^\s)]+)/.exec(t)).find(Boolean);
      return m ? (JSON.parse(decodeURIComponent(m[1])) as unknown[]) : undefined;
    };
    assert.equal(await rankLink(new vscode.Position(0, 3)), undefined, 'not offered on a line without a suggestion');
    const args = await rankLink(new vscode.Position(1, 8));
    assert.ok(args, `the hover on the suggestion's line links to Rank Completions: ${JSON.stringify(seen)}`);
    const panel = await vscode.commands.executeCommand<RankPanel>('gptLab.rankCompletions', {
      ...(args[0] as object),
      count: 3,
      seed: 5,
    });
    assert.ok(panel, 'the board opened');
    assert.equal(panel.prompt, 'export function greet2(): void {\n    console.', 'the text before the suggestion');
    assert.ok(panel.completions.length >= 2, `completions to rank: ${JSON.stringify(panel.completions)}`);
    // The cursor left the suggestion: it is hidden, and the hover no longer offers to rank there.
    editor.selection = new vscode.Selection(0, 3, 0, 3);
    let link = await rankLink(new vscode.Position(1, 8));
    for (let i = 0; i < 30 && link; i++) {
      await new Promise((r) => setTimeout(r, 100));
      link = await rankLink(new vscode.Position(1, 8));
    }
    assert.equal(link, undefined);
  });

  it('imports and exports preferences; malformed lines are reported with their numbers', async () => {
    const { lab } = await api();
    const dir = vscode.workspace.workspaceFolders![0].uri.fsPath;
    const from = path.join(dir, 'prefs-in.jsonl');
    const good = (i: number) =>
      JSON.stringify({ prompt: `// add ${i}\n`, chosen: `return a + ${i};`, rejected: `return a - ${i};` });
    await fs.writeFile(
      from,
      [good(1), '{"prompt": "x"', good(2), good(3), '{"prompt":"p","chosen":"a","rejected":"a"}'].join('\n'),
    );
    const added = await vscode.commands.executeCommand<number>('gptLab.importPreferences', vscode.Uri.file(from));
    assert.equal(added, 3);
    assert.equal(lab.preferences.counts.pairs, 11);
    const to = path.join(dir, 'prefs-out.jsonl');
    const n = await vscode.commands.executeCommand<number>('gptLab.exportPreferences', vscode.Uri.file(to));
    assert.equal(n, 11);
    assert.equal(await lines(to), 11);
  });

  it('Delete Preference removes one pair from the file, a damaged line elsewhere kept as is; the counts follow', async () => {
    const { lab } = await api();
    const file = lab.preferences.file;
    await fs.appendFile(file, '{"prompt": "damaged"\n');
    await lab.preferences.recount();
    assert.deepEqual(lab.preferences.counts.problems, 1);
    const before = await fs.readFile(file, 'utf8');
    const listed = await lab.preferences.lines();
    assert.equal(listed.length, 11);
    const target = listed[2];
    const ok = await vscode.commands.executeCommand<boolean>('gptLab.deletePreference', {
      line: target.line,
      ...target.preference,
    });
    assert.equal(ok, true);
    const rows = before.split('\n');
    rows.splice(target.line - 1, 1);
    assert.equal(await fs.readFile(file, 'utf8'), rows.join('\n'), 'only that line left the file');
    assert.equal(lab.preferences.counts.pairs, 10);
    assert.equal(lab.preferences.counts.problems, 1, 'the damaged line is still there, reported');
    const again = await vscode.commands.executeCommand<boolean>('gptLab.deletePreference', {
      line: target.line,
      ...target.preference,
    });
    assert.equal(again, false, 'a pair already deleted is not deleted twice (nor another in its place)');
    assert.equal(lab.preferences.counts.pairs, 10);
    // The suites after this one train on clean pairs.
    await fs.writeFile(file, rows.filter((r) => r !== '{"prompt": "damaged"').join('\n'));
    await lab.preferences.recount();
  });

  it('Train Reward Model runs in the worker and leaves a reward-N version; the active version stays', async () => {
    const { lab } = await api();
    const active = lab.versions.active;
    const run = await vscode.commands.executeCommand<AlignRunResult>('gptLab.trainRewardModel', {
      steps: 8,
      showPanel: false,
    });
    assert.ok(run, 'the reward model trained');
    assert.equal(run.version, 'reward-1');
    assert.equal(run.result.stopped, 'budget');
    assert.ok(Number.isFinite(run.result.metrics.accuracy));
    const v = lab.versions.get('reward-1');
    assert.equal(v?.stage, 'reward');
    assert.equal(v?.parent, active);
    assert.equal(lab.versions.active, active, 'a reward model does not serve completions');
    assert.ok(!existsSync(path.join(v!.dir, '.lock')), 'the lock is released');
  });

  it('Align with DPO leaves dpo-N, which serves completions; completions keep coming while it trains', async () => {
    const { lab } = await api();
    const parent = lab.versions.active;
    const running = vscode.commands.executeCommand<AlignRunResult>('gptLab.alignDpo', { steps: 12, showPanel: false });
    // While DPO trains in the training worker, the inference worker still answers.
    const deadline = Date.now() + 30_000;
    while (!lab.training && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    assert.ok(lab.training, 'DPO started');
    const c = await lab.inference.request('complete', {
      modelDir: lab.modelDir,
      prefix: 'export function ',
      suffix: '',
      maxTokens: 8,
      multiline: false,
    });
    assert.equal(typeof c.text, 'string');
    const run = await running;
    assert.ok(run);
    assert.equal(run.version, 'dpo-1');
    assert.ok(Number.isFinite(run.result.metrics.accuracy));
    assert.ok(Number.isFinite(run.result.metrics.rewardChosen));
    const v = lab.versions.get('dpo-1');
    assert.equal(v?.stage, 'dpo');
    assert.equal(v?.parent, parent);
    assert.equal(v?.data?.beta, 0.1, 'β from gptLab.dpo.beta');
    assert.equal(lab.versions.active, 'dpo-1');
  });

  it('the alignment panel compares dpo-1 with its parent on held-out prompts, scored by the reward model', async () => {
    const { lab } = await api();
    const panel = await AlignPanel.show(lab, 'dpo-1');
    await panel.comparing;
    const c = panel.comparison;
    assert.ok(c, 'a comparison was made');
    assert.equal(c.version, 'dpo-1');
    assert.equal(c.reward, 'reward-1');
    assert.ok(c.rows.length > 0);
    assert.ok(c.rows.every((r) => Number.isFinite(r.beforeScore) && Number.isFinite(r.afterScore)));
    assert.ok(c.winRate! >= 0 && c.winRate! <= 1);
    panel.dispose();
  });

  it('Align with PPO uses the chosen reward version and leaves ppo-N with reward and KL', async () => {
    const { lab } = await api();
    const run = await vscode.commands.executeCommand<AlignRunResult>('gptLab.alignPpo', {
      steps: 3,
      reward: 'reward-1',
      corpus: false,
      showPanel: false,
    });
    assert.ok(run);
    assert.equal(run.version, 'ppo-1');
    assert.ok(Number.isFinite(run.result.metrics.reward));
    assert.ok(Number.isFinite(run.result.metrics.kl));
    const v = lab.versions.get('ppo-1');
    assert.equal(v?.stage, 'ppo');
    assert.equal(v?.parent, 'dpo-1');
    assert.equal(v?.data?.reward, 'reward-1');
    assert.equal(v?.data?.klCoef, 0.05, 'the KL coefficient from gptLab.ppo.klCoef');
    assert.equal(lab.versions.active, 'ppo-1');
  });

  it('Resume Alignment: a stopped DPO run continues in its own folder to its budget, then trains more', async () => {
    const { lab } = await api();
    const active = lab.versions.active;
    const running = vscode.commands.executeCommand<AlignRunResult>('gptLab.alignDpo', {
      steps: 16,
      from: activeBefore,
      showPanel: false,
    });
    const deadline = Date.now() + 60_000;
    while (!lab.training && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    while ((lab.progress?.step ?? 0) < 2 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    assert.ok(await lab.stop(), 'the run was stopped');
    const stopped = await running;
    assert.ok(stopped);
    assert.equal(stopped.version, 'dpo-2');
    assert.equal(stopped.result.stopped, 'cancelled');
    assert.ok(stopped.result.step < 16, `stopped before its budget (step ${stopped.result.step})`);
    assert.equal(lab.versions.active, active, 'a stopped run does not take over completions');
    // The alignment panel says it stopped, and offers Resume.
    let panel = await AlignPanel.show(lab, 'dpo-2');
    await panel.comparing;
    const shown = panel.runs.find((r) => r.version === 'dpo-2');
    assert.equal(shown?.stopped?.step, stopped.result.step);
    assert.ok(shown?.stopped && shown.stopped.fraction < 1, 'short of its budget');

    const resumed = await vscode.commands.executeCommand<AlignRunResult>('gptLab.resumeAlignment', {
      version: 'dpo-2',
      showPanel: false,
    });
    assert.ok(resumed, 'it resumed');
    assert.equal(resumed.version, 'dpo-2');
    assert.equal(resumed.result.stopped, 'budget');
    assert.equal(resumed.result.step, 16, 'it finished its own budget');
    const v = lab.versions.get('dpo-2');
    assert.equal(v?.step, 16);
    assert.equal(v?.parent, activeBefore, 'the parent stays the reference');
    assert.equal(v?.data?.beta, 0.1);
    assert.equal(lab.versions.active, 'dpo-2', 'finished, it serves completions');
    assert.ok(!lab.versions.get('dpo-3'), 'no new version was made');
    panel = await AlignPanel.show(lab, 'dpo-2');
    await panel.comparing;
    assert.equal(panel.runs.find((r) => r.version === 'dpo-2')?.stopped, undefined, 'finished: no Resume');
    panel.dispose();
    const steps = (await fs.readFile(path.join(v!.dir, 'history.jsonl'), 'utf8'))
      .split('\n')
      .filter((l) => l.trim())
      .map((l) => (JSON.parse(l) as { step: number }).step);
    assert.deepEqual(
      steps,
      [...steps].sort((a, b) => a - b),
      'one history, in step order',
    );

    // A finished run trains the budget given on top of its own.
    const more = await vscode.commands.executeCommand<AlignRunResult>('gptLab.resumeAlignment', {
      version: 'dpo-2',
      steps: 2,
      showPanel: false,
    });
    assert.equal(more?.result.step, 18);
    assert.ok(!existsSync(path.join(v!.dir, '.lock')), 'the lock is released');
    // Not an alignment version: refused, nothing runs.
    assert.equal(await vscode.commands.executeCommand('gptLab.resumeAlignment', { version: activeBefore }), undefined);
  });
});
