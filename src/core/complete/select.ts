/** The item selected in VS Code's suggest widget: its text and where in the line its replacement starts. */
export interface SelectedSuggestion {
  text: string;
  replaceStartInLine: number;
}

/**
 * While the suggest widget shows a selected item, VS Code only shows an inline completion that extends it.
 * Returns `completion` (text to insert at the cursor) when it starts with the part of the item not typed yet,
 * else undefined. No selection: the completion stands as it is.
 */
export function extendsSelectedItem(
  completion: string,
  selected: SelectedSuggestion | undefined,
  linePrefix: string,
): string | undefined {
  if (!selected) return completion;
  const start = Math.min(Math.max(0, selected.replaceStartInLine), linePrefix.length);
  const typed = linePrefix.slice(start);
  // A fuzzy match (typed `gE` for `getElement`) replaces the typed text; text inserted at the cursor cannot.
  if (!selected.text.startsWith(typed)) return undefined;
  const rest = selected.text.slice(typed.length);
  return completion.startsWith(rest) ? completion : undefined;
}
