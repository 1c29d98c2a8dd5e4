import * as vscode from 'vscode';
import type { Lab } from '../lab';
import { log } from '../log';
import { webviewHtml, webviewOptions } from './webviewHtml';

export interface PanelPage {
  title: string;
  /** The bundle dist/webview/<script>. */
  script: string;
  body: string;
  css?: string[];
}

/**
 * What every GPT Lab panel shares: the page (strict CSP, bundled script), its icon, validation of every message
 * from the webview before it reaches `handle`, typed posting, and disposal with the panel.
 */
export abstract class GptLabPanel<Inbound, Outbound> {
  protected readonly disposables: vscode.Disposable[] = [];

  /** Creates a panel beside or in the active editor group. */
  static create(
    viewType: string,
    lab: Lab,
    title: string,
    column: { viewColumn: vscode.ViewColumn; preserveFocus?: boolean },
  ): vscode.WebviewPanel {
    return vscode.window.createWebviewPanel(viewType, title, column, webviewOptions(lab.context.extensionUri));
  }

  /** A panel VS Code restores after a reload comes without options: give them back. */
  static restore(panel: vscode.WebviewPanel, lab: Lab): vscode.WebviewPanel {
    panel.webview.options = webviewOptions(lab.context.extensionUri);
    return panel;
  }

  protected constructor(
    readonly panel: vscode.WebviewPanel,
    protected readonly lab: Lab,
    page: PanelPage,
  ) {
    panel.iconPath = vscode.Uri.joinPath(lab.context.extensionUri, 'media', 'gpt-lab.svg');
    panel.webview.html = webviewHtml(panel.webview, lab.context.extensionUri, page);
    this.disposables.push(
      panel.onDidDispose(() => this.dispose()),
      panel.webview.onDidReceiveMessage(async (raw: unknown) => {
        const m = this.parse(raw);
        if (m === undefined)
          return log(`${page.title}: ignored a malformed message ${JSON.stringify(raw)?.slice(0, 200)}`);
        await this.handle(m);
      }),
    );
  }

  /** The message if it has the shape the protocol promises, else undefined. */
  protected abstract parse(raw: unknown): Outbound | undefined;
  protected abstract handle(m: Outbound): void | Promise<void>;
  /** Called once when the panel closes (clear editor decorations, forget the singleton). */
  protected abstract closed(): void;

  protected post(m: Inbound): void {
    void this.panel.webview.postMessage(m);
  }

  dispose(): void {
    this.closed();
    for (const d of this.disposables.splice(0)) d.dispose();
    this.panel.dispose();
  }
}
