import * as vscode from 'vscode';
import { checkVersionName, VersionInfo } from '../../core/versions';
import { errorCode } from '../errors';
import type { Lab } from '../lab';
import { log } from '../log';
import { versionSummary } from '../versionText';

/** A version named by a tree item ({ version }), a string (scripts, tests), or picked by the user. */
export async function pickVersion(
  lab: Lab,
  arg: unknown,
  placeHolder: string,
  filter: (v: VersionInfo) => boolean = () => true,
): Promise<VersionInfo | undefined> {
  const name =
    typeof arg === 'string'
      ? arg
      : typeof arg === 'object' && arg !== null && typeof (arg as { version?: unknown }).version === 'string'
        ? (arg as { version: string }).version
        : undefined;
  await lab.versions.refresh();
  if (name !== undefined) {
    const v = lab.versions.get(name);
    if (!v) void vscode.window.showErrorMessage(`There is no model version "${name}".`);
    return v;
  }
  const choices = lab.versions.list.filter(filter);
  if (choices.length === 0) {
    void vscode.window.showInformationMessage('There are no model versions yet: train one on this workspace first.');
    return undefined;
  }
  const active = lab.versions.active;
  const pick = await vscode.window.showQuickPick(
    [...choices].reverse().map((v) => ({
      label: `${v.name === active ? '$(pass-filled) ' : ''}${v.name}`,
      description: versionSummary(v, lab.versions.parentOf(v)?.name ?? v.parent),
      version: v,
    })),
    { placeHolder, title: 'GPT Lab: model versions' },
  );
  return pick?.version;
}

/** "Use Version": the version serves completions, the inspector and the stepper (remembered per workspace). */
export async function useVersion(lab: Lab, arg?: unknown): Promise<string | undefined> {
  const v = await pickVersion(lab, arg, 'Which version should serve completions, the inspector and the stepper?');
  if (!v) return undefined;
  await lab.useVersion(v.name);
  vscode.window.setStatusBarMessage(`GPT Lab: "${v.name}" is now the active version.`, 5000);
  return v.name;
}

/** "Roll Back": the version's parent (the active one's, from the palette) becomes active. */
export async function rollBack(lab: Lab, arg?: unknown): Promise<string | undefined> {
  await lab.versions.refresh();
  const v = arg === undefined ? lab.versions.get(lab.versions.active) : await pickVersion(lab, arg, '');
  if (!v) {
    void vscode.window.showInformationMessage('There is no active version to roll back.');
    return undefined;
  }
  const parent = lab.versions.parentOf(v);
  if (!parent) {
    void vscode.window.showInformationMessage(
      v.parent
        ? `"${v.name}" was made from "${v.parent}", which no longer exists: there is nothing to roll back to.`
        : `"${v.name}" is a pre-trained version with no parent: there is nothing to roll back to.`,
    );
    return undefined;
  }
  await lab.useVersion(parent.name);
  void vscode.window.showInformationMessage(
    `Rolled back: "${parent.name}" serves completions again. "${v.name}" is kept; Use Version brings it back.`,
  );
  return parent.name;
}

/** "Rename Version": a new folder name (letters, digits, '.', '_', '-'); `to` for scripts and tests. */
export async function renameVersion(lab: Lab, arg?: unknown, to?: string): Promise<string | undefined> {
  if (lab.training) {
    void vscode.window.showErrorMessage('Wait for training to finish (or stop it) before renaming a version.');
    return undefined;
  }
  const v = await pickVersion(lab, arg, 'Which version do you want to rename?');
  if (!v) return undefined;
  const name =
    to ??
    (await vscode.window.showInputBox({
      title: `Rename the version "${v.name}"`,
      value: v.name,
      prompt: 'Letters, digits, ".", "_" or "-" (at most 64).',
      validateInput: (s) => {
        try {
          const n = checkVersionName(s);
          return n !== v.name && lab.versions.get(n) ? `A version named "${n}" already exists.` : undefined;
        } catch (err) {
          return (err as Error).message;
        }
      },
    }));
  if (name === undefined) return undefined;
  try {
    const renamed = await lab.versions.rename(v.name, name);
    await lab.refresh();
    return renamed;
  } catch (err) {
    log(`rename failed (${errorCode(err)}): ${(err as Error).message}`);
    void vscode.window.showErrorMessage(`GPT Lab could not rename "${v.name}": ${(err as Error).message}`);
    return undefined;
  }
}

/**
 * "Delete Version" (and "Delete Model", for the active one): asks first, saying what happens when it is the
 * active or the last version. `confirmed` skips the question (scripts and tests).
 */
export async function deleteVersion(lab: Lab, arg?: unknown, confirmed = false): Promise<boolean> {
  if (lab.training) {
    void vscode.window.showErrorMessage('Stop training before deleting a model version.');
    return false;
  }
  await lab.versions.refresh();
  const v =
    arg === undefined && lab.versions.list.length <= 1
      ? lab.versions.get(lab.versions.active)
      : await pickVersion(lab, arg, 'Which version do you want to delete?');
  if (!v) {
    if (arg === undefined && lab.versions.list.length === 0)
      void vscode.window.showInformationMessage('There is no model to delete.');
    return false;
  }
  const others = lab.versions.list.filter((o) => o.name !== v.name);
  const children = lab.versions.children(v.name).map((c) => `"${c.name}"`);
  const parent = lab.versions.parentOf(v);
  const next = parent?.name ?? others.find((o) => o.name === 'base')?.name ?? others[others.length - 1]?.name;
  const consequences = [
    'Its weights, tokenizer and training history will be removed.',
    others.length === 0
      ? 'It is the only version: GPT Lab will have no model (no completions, inspector or stepper) until you train again.'
      : lab.versions.active === v.name
        ? `It is the active version: "${next}" will serve completions instead.`
        : '',
    children.length ? `${children.join(', ')} made from it will stay.` : '',
  ].filter(Boolean);
  if (!confirmed) {
    const ok = await vscode.window.showWarningMessage(
      `Delete the model version "${v.name}"?`,
      { modal: true, detail: consequences.join(' ') },
      'Delete',
    );
    if (ok !== 'Delete') return false;
  }
  try {
    await lab.deleteVersion(v.name);
  } catch (err) {
    // Another window training into this folder (LOCKED), a file the system would not remove: say so.
    log(`delete version failed (${errorCode(err)}): ${(err as Error).message}`);
    void vscode.window.showErrorMessage(`GPT Lab could not delete "${v.name}": ${(err as Error).message}`);
    return false;
  }
  vscode.window.setStatusBarMessage(`GPT Lab: the version "${v.name}" was deleted.`, 5000);
  return true;
}
