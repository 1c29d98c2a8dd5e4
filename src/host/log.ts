import * as vscode from 'vscode';

let channel: vscode.OutputChannel | undefined;

/** The "GPT Lab" output channel, created on first write. */
export function log(line: string): void {
  channel ??= vscode.window.createOutputChannel('GPT Lab');
  channel.appendLine(`[${new Date().toLocaleTimeString()}] ${line}`);
}

export function showLog(): void {
  channel ??= vscode.window.createOutputChannel('GPT Lab');
  channel.show(true);
}

export function disposeLog(): void {
  channel?.dispose();
  channel = undefined;
}
