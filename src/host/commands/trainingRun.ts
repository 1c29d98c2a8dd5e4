import * as vscode from 'vscode';
import { progressText, type ProgressFigures } from '../../protocol/format';
import type { Lab } from '../lab';
import { LossPanel } from '../panels/lossPanel';

/**
 * Whether a training command (train, fine-tune, align) may start: not while a run is in progress (the panel is
 * offered instead), and only in a trusted workspace. Says why when not.
 */
export async function readyToTrain(lab: Lab): Promise<boolean> {
  if (lab.training) {
    const show = await vscode.window.showInformationMessage('GPT Lab is already training.', 'Show Panel');
    if (show) LossPanel.createOrShow(lab);
    return false;
  }
  if (!vscode.workspace.isTrusted) {
    void vscode.window.showErrorMessage(
      'GPT Lab trains only in a trusted workspace: it reads every file and runs a local worker. Trust this workspace, then try again.',
    );
    return false;
  }
  return true;
}

/**
 * A worker run under a notification with Cancel (which stops it at the next step, saved): the bar follows the
 * worker's progress, the message reads the step as every progress display does. A failure goes to `onFailure`
 * and the run resolves undefined.
 */
export async function withTrainingProgress<T>(
  lab: Lab,
  title: string,
  run: () => Promise<T>,
  onFailure: (err: unknown) => void,
  message: (p: ProgressFigures) => string = (p) => progressText(p, { percent: true, lossDigits: 2 }),
): Promise<T | undefined> {
  return vscode.window.withProgress(
    { location: vscode.ProgressLocation.Notification, title, cancellable: true },
    async (progress, token) => {
      token.onCancellationRequested(() => void lab.stop().catch(() => undefined));
      let reported = 0;
      const sub = lab.worker.onEvent((e) => {
        if (e.event !== 'progress') return;
        const pct = Math.floor(e.data.fraction * 100);
        progress.report({ increment: Math.max(0, pct - reported), message: message(e.data) });
        reported = Math.max(reported, pct);
      });
      try {
        return await run();
      } catch (err) {
        onFailure(err);
        return undefined;
      } finally {
        sub.dispose();
      }
    },
  );
}
