import { dirname } from 'node:path';
import type * as TS from 'typescript';

let loaded: typeof TS | undefined;

/**
 * The TypeScript compiler the app's Angular CLI uses (through @schematics/angular), else the app's own: only its
 * parser is used, to find what to edit; the edits themselves are text insertions.
 */
export function typescript(): typeof TS {
  if (loaded) return loaded;
  const candidates: string[] = [];
  try {
    const angularSchematics = dirname(require.resolve('@schematics/angular/package.json'));
    // Up to Angular 21 a copy ships inside @schematics/angular; from 22 it is its dependency.
    candidates.push(`${angularSchematics}/third_party/github.com/Microsoft/TypeScript/lib/typescript`);
    candidates.push(require.resolve('typescript', { paths: [angularSchematics] }));
  } catch {
    // no @schematics/angular next to us: the app's own TypeScript below
  }
  candidates.push('typescript');
  for (const id of candidates) {
    try {
      loaded = require(id) as typeof TS;
      return loaded;
    } catch {
      // next candidate
    }
  }
  throw new Error('ng add ngx-fresh-token: TypeScript was not found (it comes with @angular/cli).');
}

/** Parses a .ts file of the app. */
export function parse(path: string, text: string): TS.SourceFile {
  const ts = typescript();
  return ts.createSourceFile(path, text, ts.ScriptTarget.Latest, true, ts.ScriptKind.TS);
}

/** One text insertion at a position of the original text. */
export interface Insertion {
  pos: number;
  text: string;
}

/** A text replacement of [start, end) of the original text. */
export interface Replacement {
  start: number;
  end: number;
  text: string;
}

/** Applies insertions and replacements given in positions of the original text. */
export function applyEdits(text: string, edits: Array<Insertion | Replacement>): string {
  const normalized = edits.map((e) => ('pos' in e ? { start: e.pos, end: e.pos, text: e.text } : e));
  // From the end backwards, so that earlier positions stay valid; at one position, in the order given.
  const ordered = normalized.map((e, i) => ({ ...e, i })).sort((a, b) => b.start - a.start || b.i - a.i);
  let out = text;
  for (const e of ordered) out = out.slice(0, e.start) + e.text + out.slice(e.end);
  return out;
}

/**
 * Edits that import `symbols` from `module`: added to an existing named import of that module, or as a new
 * import after the last one. Symbols already imported (by that name) are left alone.
 */
export function importEdits(source: TS.SourceFile, module: string, symbols: string[]): Insertion[] {
  const ts = typescript();
  const imports = source.statements.filter(ts.isImportDeclaration);
  const imported = new Set<string>();
  for (const decl of imports) {
    const bindings = decl.importClause?.namedBindings;
    if (bindings && ts.isNamedImports(bindings)) for (const el of bindings.elements) imported.add(el.name.text);
    if (decl.importClause?.name) imported.add(decl.importClause.name.text);
  }
  const missing = symbols.filter((s) => !imported.has(s));
  if (missing.length === 0) return [];
  const existing = imports.find(
    (d) =>
      ts.isStringLiteral(d.moduleSpecifier) &&
      d.moduleSpecifier.text === module &&
      !d.importClause?.isTypeOnly &&
      d.importClause?.namedBindings &&
      ts.isNamedImports(d.importClause.namedBindings),
  );
  if (existing) {
    const elements = (existing.importClause!.namedBindings as TS.NamedImports).elements;
    if (elements.length > 0) {
      const last = elements[elements.length - 1];
      const multiline = source.text.slice(elements[0].getFullStart(), last.end).includes('\n');
      const indent = multiline ? lineIndent(source.text, last.getStart()) : '';
      const sep = multiline ? `,\n${indent}` : ', ';
      return [{ pos: last.end, text: missing.map((s) => `${sep}${s}`).join('') }];
    }
  }
  const line = `import { ${missing.join(', ')} } from '${module}';\n`;
  const lastImport = imports[imports.length - 1];
  if (!lastImport) return [{ pos: 0, text: line }];
  const eol = source.text.indexOf('\n', lastImport.end);
  return [{ pos: eol === -1 ? source.text.length : eol + 1, text: eol === -1 ? `\n${line}` : line }];
}

/** The leading whitespace of the line that holds `pos`. */
export function lineIndent(text: string, pos: number): string {
  const start = text.lastIndexOf('\n', pos - 1) + 1;
  return /^[ \t]*/.exec(text.slice(start))![0];
}

/** The exported `const name = …` (or the first exported const whose type is `typeName`) and its initializer. */
export function findExportedConst(source: TS.SourceFile, names: string[], typeName?: string): TS.VariableDeclaration | undefined {
  const ts = typescript();
  const decls: TS.VariableDeclaration[] = [];
  for (const st of source.statements) {
    if (!ts.isVariableStatement(st)) continue;
    if (!st.modifiers?.some((m) => m.kind === ts.SyntaxKind.ExportKeyword)) continue;
    decls.push(...st.declarationList.declarations);
  }
  return (
    decls.find((d) => ts.isIdentifier(d.name) && names.includes(d.name.text)) ??
    (typeName ? decls.find((d) => d.type && d.type.getText(source).replace(/\s/g, '') === typeName) : undefined)
  );
}

/** A TypeScript string literal in single quotes. */
export function quote(value: string): string {
  return `'${value.replace(/\\/g, '\\\\').replace(/'/g, "\\'")}'`;
}

/** Every call expression under `node` (depth first). */
export function calls(node: TS.Node): TS.CallExpression[] {
  const ts = typescript();
  const found: TS.CallExpression[] = [];
  const visit = (n: TS.Node): void => {
    if (ts.isCallExpression(n)) found.push(n);
    ts.forEachChild(n, visit);
  };
  visit(node);
  return found;
}

/** The name a call is made through: `f(…)` → `f`, `a.b(…)` → `a.b`. */
export function calleeName(call: TS.CallExpression): string {
  const ts = typescript();
  const e = call.expression;
  if (ts.isIdentifier(e)) return e.text;
  if (ts.isPropertyAccessExpression(e)) return `${ts.isIdentifier(e.expression) ? e.expression.text : '?'}.${e.name.text}`;
  return '';
}
