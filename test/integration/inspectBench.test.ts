import { strict as assert } from 'node:assert';
import { mkdirSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import * as vscode from 'vscode';
import type { GptLabApi } from '../../src/host/extension';
import type { InspectorPanel } from '../../src/host/panels/inspectorPanel';

/**
 * Not a test: `npm run bench:inspector` runs this inside a real VS Code to time "Inspect Attention" from the
 * command to the drawn panel (worker forward pass, typed-array transfer, canvas drawing). Skipped otherwise.
 */
(process.env.GPT_LAB_BENCH ? describe : describe.skip)(
  'benchmark: Inspect Attention, command → drawn panel',
  function () {
    this.timeout(15 * 60_000);

    it('measures the small and base presets at 256 tokens', async () => {
      const ext = vscode.extensions.getExtension<GptLabApi>('gpt-lab.gpt-lab')!;
      const { lab } = await ext.activate();
      const folder = vscode.workspace.workspaceFolders![0].uri;
      const doc = await vscode.workspace.openTextDocument(vscode.Uri.joinPath(folder, 'src', 'greet.ts'));
      const results: Record<string, unknown> = {};
      for (const preset of ['small', 'base']) {
        await lab.deleteModel();
        assert.ok(await vscode.commands.executeCommand('gptLab.train', { preset, steps: 1 }), `trained ${preset}`);
        const editor = await vscode.window.showTextDocument(doc, vscode.ViewColumn.One);
        editor.selection = new vscode.Selection(0, 0, doc.lineCount, 0);
        const runs: number[] = [];
        let tokens = 0;
        for (let i = 0; i < 6; i++) {
          const t0 = performance.now();
          const panel = await vscode.commands.executeCommand<InspectorPanel | undefined>('gptLab.inspectAttention');
          assert.ok(
            panel,
            `the command ran (editor: ${vscode.window.activeTextEditor?.document.fileName}, model: ${lab.info?.step})`,
          );
          const before = panel.lastDrawMs;
          while (panel.lastDrawMs === before || panel.lastDrawMs === undefined)
            await new Promise((r) => setTimeout(r, 5));
          if (i > 0) runs.push(performance.now() - t0); // the first run also starts the worker and loads the model
          tokens = panel.attention!.tokens.ids.length;
          panel.lastDrawMs = undefined;
        }
        runs.sort((a, b) => a - b);
        results[preset] = {
          tokens,
          layers: lab.info!.layers,
          heads: lab.info!.heads,
          medianMs: Math.round(runs[runs.length >> 1]),
          minMs: Math.round(runs[0]),
          maxMs: Math.round(runs[runs.length - 1]),
        };
        console.log(`inspect ${preset}: ${JSON.stringify(results[preset])}`);
      }
      const dir = process.env.GPT_LAB_ARTIFACTS ?? '.artifacts';
      mkdirSync(dir, { recursive: true });
      writeFileSync(
        path.join(dir, 'bench-inspector.json'),
        JSON.stringify({ date: new Date().toISOString(), ...results }, null, 2) + '\n',
      );
    });
  },
);
