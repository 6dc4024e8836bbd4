#!/usr/bin/env node
/**
 * Generate the wire protocol's TypeScript and Python modules from one JSON
 * Schema, `protocol.json`, in the manner of jupyterlab-lsp (json2ts for the
 * types, the same file validated from Python).
 *
 *   node scripts/generate-protocol.js [--check] [--schema FILE] [--ts FILE]
 *                                     [--py FILE] [--command TEXT]
 *
 * (`jlpm build:protocol`; `jlpm lint:protocol` is `--check`, part of
 * `jlpm lint:check`). Paths default to the repository's, from any directory.
 *
 * Outputs:
 *   --ts  the TypeScript module: json-schema-to-typescript's types (reader
 *         view: fields added after 1.0 are optional), the constants, and one
 *         small decoder per kernel-to-front-end message and result
 *         (`decodeX(value: unknown): X`) that throws a DecodeError naming the
 *         path that failed;
 *   --py  the Python module: the constants, the enumerations as Literal types
 *         and tuples, and TypedDicts of everything the kernel sends (producer
 *         view: every field required).
 *
 * With --check nothing is written: the script exits 1, naming the stale file,
 * when an output differs from what it would write (CI runs this, or
 * regenerates and runs `git diff --exit-code`).
 *
 * The output depends on nothing but the schema, this script and the pinned
 * json-schema-to-typescript and prettier: no dates, no absolute paths, keys in
 * the schema's order, "\n" line ends. Prettier options come from the nearest
 * prettier configuration of the TypeScript output (the repository's
 * package.json), else the repository's settings below.
 */
'use strict';

const crypto = require('crypto');
const fs = require('fs');
const path = require('path');

const { compile } = require('json-schema-to-typescript');
const prettier = require('prettier');

/** The repository's root (this script lives in scripts/). */
const ROOT = path.resolve(__dirname, '..');

/** Where everything goes unless the command line says otherwise. */
const DEFAULTS = {
  schema: path.relative(
    process.cwd(),
    path.join(ROOT, 'python/memory_doctor/protocol/protocol.json')
  ),
  ts: path.relative(
    process.cwd(),
    path.join(ROOT, 'src/protocol/generated.ts')
  ),
  py: path.relative(
    process.cwd(),
    path.join(ROOT, 'python/memory_doctor/protocol/generated.py')
  ),
  command: 'jlpm build:protocol'
};

/** The repository's prettier settings (package.json), used when none is found. */
const PRETTIER_FALLBACK = {
  singleQuote: true,
  trailingComma: 'none',
  arrowParens: 'avoid',
  endOfLine: 'lf'
};

/** Fields added in these versions are required for readers too. */
const OLDEST_MINOR = '1.0';

/** Python's line length (ruff). */
const PY_WIDTH = 100;

// ---------------------------------------------------------------------------
// The schema

/** Errors in the schema itself; generation stops at the first. */
class SchemaError extends Error {}

function fail(message) {
  throw new SchemaError(message);
}

function isObject(value) {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** The definition name a `$ref` points to. */
function refName(ref) {
  const match = /^#\/\$defs\/([A-Za-z0-9_]+)$/.exec(ref);
  if (!match) {
    fail(`Only local "#/$defs/Name" references are supported, not ${ref}.`);
  }
  return match[1];
}

/** Compare MAJOR.MINOR strings. */
function newerThan(version, other) {
  const [a, b] = version.split('.').map(Number);
  const [c, d] = other.split('.').map(Number);
  return a > c || (a === c && b > d);
}

/** Whether a property may be missing for a reader (see x-reader-rules). */
function readerOptional(prop) {
  return (
    prop['x-reader-optional'] === true ||
    (typeof prop['x-since'] === 'string' &&
      newerThan(prop['x-since'], OLDEST_MINOR))
  );
}

/** Every node of a schema tree, depth first. */
function* nodes(node) {
  if (Array.isArray(node)) {
    for (const item of node) {
      yield* nodes(item);
    }
  } else if (isObject(node)) {
    yield node;
    for (const value of Object.values(node)) {
      yield* nodes(value);
    }
  }
}

/** The members of a union definition (oneOf/anyOf of references). */
function unionMembers(def) {
  const list = def.oneOf || def.anyOf;
  return Array.isArray(list) ? list : null;
}

/** The constants, with `sum` entries computed, in the schema's order. */
function readConstants(schema) {
  const out = new Map();
  for (const [name, entry] of Object.entries(schema['x-constants'] || {})) {
    if (!/^[A-Z][A-Z0-9_]*$/.test(name)) {
      fail(`x-constants: ${name} is not an UPPER_CASE name.`);
    }
    let value = entry.value;
    if (Array.isArray(entry.sum)) {
      value = 0;
      for (const term of entry.sum) {
        const known = out.get(term);
        if (!known || typeof known.value !== 'number') {
          fail(
            `x-constants: ${name} sums ${term}, which is not a number defined before it.`
          );
        }
        value += known.value;
      }
    }
    if (!['string', 'number', 'boolean'].includes(typeof value)) {
      fail(
        `x-constants: ${name} needs a string, number or boolean "value", or a "sum".`
      );
    }
    out.set(name, { ...entry, name, value });
  }
  return out;
}

/** Check what JSON Schema cannot: references, ties to constants, our x- keywords. */
function lint(schema, constants) {
  const defs = schema.$defs || fail('The schema has no $defs.');
  for (const node of nodes(schema)) {
    if (typeof node.$ref === 'string' && !(refName(node.$ref) in defs)) {
      fail(`${node.$ref} names no definition.`);
    }
    for (const [keyword, name] of Object.entries(node['x-tied'] || {})) {
      const constant = constants.get(name);
      if (!constant) {
        fail(`x-tied names ${name}, which is not in x-constants.`);
      }
      if (node[keyword] !== constant.value) {
        fail(
          `A ${keyword} of ${JSON.stringify(node[keyword])} is tied to ${name} = ` +
            `${JSON.stringify(constant.value)}; change them together.`
        );
      }
    }
  }
  for (const [name, def] of Object.entries(defs)) {
    if (def.enum && !def.enum.every(v => typeof v === 'string')) {
      fail(`${name}: only string enumerations are supported.`);
    }
    if (def.enum && new Set(def.enum).size !== def.enum.length) {
      fail(`${name}: an enumeration lists a value twice.`);
    }
    if (def.properties) {
      for (const key of def.required || []) {
        if (!(key in def.properties)) {
          fail(`${name}: required ${key} is not among its properties.`);
        }
      }
    }
    if (def['x-types-constant'] && !discriminator(schema, name)) {
      fail(`${name}: its members need a "type" const each.`);
    }
  }
}

// ---------------------------------------------------------------------------
// Reading the definitions

function resolve(schema, node) {
  return typeof node.$ref === 'string'
    ? schema.$defs[refName(node.$ref)]
    : node;
}

/** The leaf object definitions of a union, by name (nested unions flattened). */
function leaves(schema, name) {
  const def = schema.$defs[name];
  const members = unionMembers(def);
  if (!members) {
    return [name];
  }
  return members.flatMap(m => leaves(schema, refName(m.$ref)));
}

/** The const of `prop` in an object definition, or undefined. */
function constOf(schema, name, prop) {
  const def = schema.$defs[name];
  const node = def.properties && def.properties[prop];
  return node && 'const' in node ? node.const : undefined;
}

/**
 * The property that tells a union's members apart: each member's leaves
 * share one const for it, and the members' consts differ. Returns
 * `{ prop, cases: [[value, memberName], ...] }` or null.
 */
function discriminator(schema, name) {
  const members = unionMembers(schema.$defs[name]);
  if (!members || !members.every(m => typeof m.$ref === 'string')) {
    return null;
  }
  const names = members.map(m => refName(m.$ref));
  const first = leaves(schema, names[0])[0];
  const candidates = Object.keys(schema.$defs[first].properties || {});
  for (const prop of candidates) {
    const cases = [];
    for (const member of names) {
      const values = new Set(
        leaves(schema, member).map(l => constOf(schema, l, prop))
      );
      if (values.size !== 1 || values.has(undefined)) {
        break;
      }
      cases.push([[...values][0], member]);
    }
    if (
      cases.length === names.length &&
      new Set(cases.map(c => JSON.stringify(c[0]))).size === cases.length
    ) {
      return { prop, cases };
    }
  }
  return null;
}

/** The request definitions: `[[type, requestDef, resultDef], ...]`. */
function requests(schema) {
  return discriminator(schema, 'RequestMessage').cases.map(([type, name]) => {
    const result = schema.$defs[name]['x-result'];
    if (!result) {
      fail(`${name} has no x-result.`);
    }
    return [type, name, refName(result.$ref)];
  });
}

/** The definitions a front end decodes: kernel messages, results and their parts. */
function decodedDefs(schema) {
  const seen = new Set();
  const visit = name => {
    if (seen.has(name)) {
      return;
    }
    seen.add(name);
    for (const node of nodes(schema.$defs[name])) {
      if (typeof node.$ref === 'string') {
        visit(refName(node.$ref));
      }
    }
  };
  visit('KernelMessage');
  for (const [, , result] of requests(schema)) {
    visit(result);
  }
  // In the schema's order, so the output is stable.
  return Object.keys(schema.$defs).filter(name => seen.has(name));
}

/** The name of the type of a union's `type` values (x-types-type, else NameType). */
function typesType(name, def) {
  return def['x-types-type'] || `${name}Type`;
}

function isObjectDef(def) {
  return def.type === 'object';
}

// ---------------------------------------------------------------------------
// TypeScript

function sha256(text) {
  return crypto.createHash('sha256').update(text).digest('hex');
}

/** A JSDoc block (one paragraph per entry). */
function jsdoc(...paragraphs) {
  const text = paragraphs.filter(Boolean).join('\n\n').replace(/\*\//g, '*\\/');
  return `/**\n${text
    .split('\n')
    .map(line => (line ? ` * ${line}` : ' *'))
    .join('\n')}\n */\n`;
}

/** The schema json2ts compiles: the reader view, every definition reachable. */
function readerSchema(schema) {
  const defs = JSON.parse(JSON.stringify(schema.$defs));
  for (const [name, def] of Object.entries(defs)) {
    if (def.properties && def.required) {
      def.required = def.required.filter(
        key => !readerOptional(def.properties[key])
      );
    }
    // json2ts names a declaration after its title; interfaces take an I.
    def.title = isObjectDef(def) ? `I${name}` : name;
  }
  // A $ref with siblings (a description) would make json2ts declare a copy.
  for (const node of nodes(defs)) {
    if (typeof node.$ref === 'string') {
      for (const key of Object.keys(node)) {
        if (key !== '$ref') {
          delete node[key];
        }
      }
    }
  }
  const names = Object.keys(defs);
  return {
    title: 'IProtocolDefinitions',
    description:
      'Every definition of protocol.json by its name there, e.g. `IProtocolDefinitions["Holder"]`.',
    type: 'object',
    properties: Object.fromEntries(
      names.map(n => [n, { $ref: `#/$defs/${n}` }])
    ),
    required: names,
    additionalProperties: false,
    $defs: defs
  };
}

function tsValue(value) {
  return typeof value === 'string'
    ? `'${value.replace(/[\\']/g, '\\$&')}'`
    : String(value);
}

function describeConstant(c) {
  const parts = [c.description];
  if (c.sum) {
    parts.push(`Computed: ${c.sum.join(' + ')}.`);
  }
  if (c.unit) {
    parts.push(`Unit: ${c.unit}.`);
  }
  return parts.join(' ');
}

/** A one-line JSDoc comment. */
function doc(text) {
  return `/** ${text.replace(/\*\//g, '*\\/')} */\n`;
}

function tsConstants(schema, constants) {
  let out =
    '// ---------------------------------------------------------------- constants\n\n';
  for (const c of constants.values()) {
    out += doc(describeConstant(c));
    out += `export const ${c.name} = ${tsValue(c.value)};\n`;
  }
  out += '\n';
  for (const [name, def] of Object.entries(schema.$defs)) {
    if (def['x-constant']) {
      out += doc(`Every ${name}, in the schema's order.`);
      out += `export const ${def['x-constant']} = [${def.enum.map(tsValue).join(', ')}] as const;\n\n`;
    }
    if (def['x-types-constant']) {
      const types = discriminator(schema, name).cases.map(c => c[0]);
      out += doc(`The \`type\` of each ${name}, in the schema's order.`);
      out += `export const ${def['x-types-constant']} = [${types.map(tsValue).join(', ')}] as const;\n\n`;
      out += doc(`A ${name} type.`);
      out += `export type ${typesType(name, def)} = (typeof ${def['x-types-constant']})[number];\n\n`;
    }
    if (def['x-fields-constant']) {
      out += doc(`The fields of a ${name}, in the schema's order.`);
      out += `export const ${def['x-fields-constant']} = [${Object.keys(
        def.properties
      )
        .map(tsValue)
        .join(', ')}] as const;\n\n`;
    }
    if (def['x-defaults-constant']) {
      const defaults = Object.entries(def.properties).map(
        ([key, prop]) => `${key}: ${tsValue(prop.default)}`
      );
      out += doc(`The default of every ${name} option.`);
      out += `export const ${def['x-defaults-constant']}: Readonly<Required<I${name}>> = { ${defaults.join(', ')} };\n\n`;
    }
  }
  return out;
}

function tsRequestMaps(schema) {
  const list = requests(schema);
  let out =
    '// ---------------------------------------------------------------- requests\n\n';
  out += doc(
    "Request parameters by request type: the request without `type` and `request_id` (as in the debugger's `sendRequest`)."
  );
  out += 'export interface IRequests {\n';
  for (const [type, name] of list) {
    out += `  ${type}: Omit<I${name}, 'type' | 'request_id'>;\n`;
  }
  out += '}\n\n';
  out += doc('Reply results by request type.');
  out += 'export interface IResults {\n';
  for (const [type, , result] of list) {
    out += `  ${type}: I${result};\n`;
  }
  out += '}\n\n';
  out += doc(
    'Decode the `result` of an ok reply to a request of `type`; throws a DecodeError naming the path that failed.'
  );
  out += `export function decodeResult<K extends RequestType>(
  type: K,
  value: unknown,
  options: IDecodeOptions = {}
): IResults[K] {
  const readers: { [T in RequestType]: Private.Reader<IResults[T]> } = {
${list.map(([type, , result]) => `    ${type}: Private.read${result}`).join(',\n')}
  };
  return readers[type](value, options.path ?? \`result(\${type})\`, options.onDrop ?? Private.ignore);
}

`;
  return out;
}

/** The reader of a schema node, as a TypeScript expression built from the combinators. */
function reader(schema, node) {
  if (typeof node.$ref === 'string') {
    return `read${refName(node.$ref)}`;
  }
  if ('const' in node) {
    return `literal(${tsValue(node.const)})`;
  }
  if (node.enum) {
    return `member(${node['x-constant']})`;
  }
  const alternatives = node.anyOf || node.oneOf;
  if (alternatives) {
    const others = alternatives.filter(a => a.type !== 'null');
    if (alternatives.length === 2 && others.length === 1) {
      return `nullable(${reader(schema, others[0])})`;
    }
    fail(
      `Only "X or null" unions are supported inside a definition: ${JSON.stringify(node)}`
    );
  }
  const types = Array.isArray(node.type) ? node.type : [node.type];
  if (types.length === 2 && types.includes('null')) {
    return `nullable(${reader(schema, { ...node, type: types.find(t => t !== 'null') })})`;
  }
  const limits = (keys, extra = [], lead = []) => {
    const list = lead.concat(
      keys
        .filter(k => k in node)
        .map(
          k => `${k}: ${k === 'pattern' ? `/${node[k]}/` : tsValue(node[k])}`
        ),
      extra
    );
    return list.length ? `{ ${list.join(', ')} }` : '';
  };
  switch (types[0]) {
    case 'string':
      return `string(${limits(['minLength', 'maxLength', 'pattern'])})`;
    case 'integer':
      return `number(${limits(['minimum', 'maximum', 'exclusiveMinimum'], [], ['integer: true'])})`;
    case 'number':
      return `number(${limits(['minimum', 'maximum', 'exclusiveMinimum'])})`;
    case 'boolean':
      return 'boolean';
    case 'object':
      if (node.properties || node.additionalProperties !== true) {
        fail('Objects with properties must be definitions of their own.');
      }
      return 'record';
    case 'array': {
      const extra = [];
      if (node['x-drop-invalid']) {
        extra.push('dropInvalid: true');
      }
      if (node['x-unique-by']) {
        extra.push(`uniqueBy: ${tsValue(node['x-unique-by'])}`);
      }
      const l = limits(['minItems', 'maxItems'], extra);
      return `array(${reader(schema, node.items)}${l ? `, ${l}` : ''})`;
    }
    default:
      return fail(`Unsupported schema: ${JSON.stringify(node)}`);
  }
}

/** The TypeScript type json2ts declared for a definition. */
function tsType(schema, name) {
  return isObjectDef(schema.$defs[name]) ? `I${name}` : name;
}

/** One definition's reader. */
function tsReader(schema, name) {
  const def = schema.$defs[name];
  const type = tsType(schema, name);
  let body;
  if (isObjectDef(def)) {
    const required = new Set(
      (def.required || []).filter(key => !readerOptional(def.properties[key]))
    );
    const fields = Object.entries(def.properties || {}).map(([key, prop]) => {
      const read = reader(schema, prop);
      return `    ${key}: ${required.has(key) ? read : `optional(${read})`}`;
    });
    body = `object<${type}>({\n${fields.join(',\n')}\n  })`;
  } else if (unionMembers(def) && !def.type) {
    const found = discriminator(schema, name);
    if (!found) {
      body = reader(schema, def);
    } else {
      const cases = found.cases.map(
        ([value, member]) => `    ${value}: read${member}`
      );
      // A list of message types (x-types-constant) grows with each MINOR.
      const open = def['x-types-constant'] ? ', true' : '';
      body = `variants<${type}>('${found.prop}', {\n${cases.join(',\n')}\n  }${open})`;
    }
  } else {
    body = reader(schema, def);
  }
  return `  export const read${name}: Reader<${type}> = ${body};\n\n`;
}

/** Definitions in an order where each comes after those it reads (the schema has no cycles). */
function dependencyOrder(schema, names) {
  const wanted = new Set(names);
  const done = new Set();
  const out = [];
  const visit = (name, stack) => {
    if (done.has(name)) {
      return;
    }
    if (stack.includes(name)) {
      fail(
        `Definitions refer to each other in a cycle: ${[...stack, name].join(' -> ')}`
      );
    }
    for (const node of nodes(schema.$defs[name])) {
      if (typeof node.$ref === 'string') {
        visit(refName(node.$ref), [...stack, name]);
      }
    }
    done.add(name);
    if (wanted.has(name)) {
      out.push(name);
    }
  };
  names.forEach(name => visit(name, []));
  return out;
}

/** The public decoders (one per object or union definition a front end reads) and their readers. */
function tsDecoders(schema) {
  const names = decodedDefs(schema);
  let out =
    '// ---------------------------------------------------------------- decoders\n\n';
  out += RUNTIME_PUBLIC;
  for (const name of names) {
    const def = schema.$defs[name];
    if (!isObjectDef(def) && !unionMembers(def)) {
      continue;
    }
    const type = tsType(schema, name);
    out += doc(
      `Decode a \`${name}\` from untrusted JSON; throws a DecodeError naming the path that failed.`
    );
    out += `export function decode${name}(value: unknown, options: IDecodeOptions = {}): ${type} {
  return Private.read${name}(value, options.path ?? '${name}', options.onDrop ?? Private.ignore);
}

`;
  }
  out += RUNTIME_PRIVATE;
  out +=
    '\n  // ------------------------------------------------------------ readers\n\n';
  for (const name of dependencyOrder(schema, names)) {
    out += tsReader(schema, name);
  }
  return `${out.trimEnd()}\n}\n`;
}

/** The decoders' public runtime: the error and the options. */
const RUNTIME_PUBLIC = `${doc('A value from the kernel without the shape protocol.json gives it.')}export class DecodeError extends Error {
  constructor(
    /** Where the value failed, e.g. \`ScanResult.holders[3].kind\`. */
    readonly path: string,
    /** What protocol.json asks for there. */
    readonly expected: string,
    /** What was there (\`undefined\`: the field is missing). */
    readonly actual: unknown,
    /**
     * Whether the value is a well-formed message type (or variant) this
     * version does not know: a newer MINOR may add some, so log and ignore it.
     */
    readonly unknownVariant = false
  ) {
    super(\`\${path}: expected \${expected}, got \${Private.show(actual)}\`);
    this.name = 'DecodeError';
  }
}

${doc('Options of every decoder.')}export interface IDecodeOptions {
  /** The value's name in error messages; defaults to its definition's name. */
  path?: string;
  /**
   * Told about every array item left out instead of failing the whole value
   * (the arrays marked x-drop-invalid, and repeated ids of x-unique-by).
   */
  onDrop?: (error: DecodeError) => void;
}

`;

/** The combinators the readers are built from; error texts are built on failure only. */
const RUNTIME_PRIVATE = `namespace Private {
  /** Reads one value at \`path\`, or throws a DecodeError. */
  export type Reader<T> = (value: unknown, path: string, drop: Drop) => T;
  export type Drop = (error: DecodeError) => void;

  /** A reader for each field; optional fields (and only they) may read \`undefined\`. */
  type Fields<T> = {
    [K in keyof T]-?: object extends Pick<T, K> ? Reader<T[K] | undefined> : Reader<T[K]>;
  };

  interface ILimits {
    integer?: boolean;
    minimum?: number;
    maximum?: number;
    exclusiveMinimum?: number;
    minLength?: number;
    maxLength?: number;
    pattern?: RegExp;
    minItems?: number;
    maxItems?: number;
    dropInvalid?: boolean;
    uniqueBy?: string;
  }

  export function ignore(): void {
    // Dropped items are left out without a word unless the caller listens.
  }

  /** A short description of a JSON value for an error message. */
  export function show(value: unknown): string {
    if (value === undefined) {
      return 'nothing (missing)';
    }
    if (typeof value === 'string') {
      return JSON.stringify(value.length > 40 ? value.slice(0, 39) + '…' : value);
    }
    if (Array.isArray(value)) {
      return \`an array of \${value.length}\`;
    }
    if (typeof value === 'object' && value !== null) {
      return 'an object';
    }
    return String(value);
  }

  export function expectation(what: string, limits: ILimits): string {
    const words: [keyof ILimits, string][] = [
      ['exclusiveMinimum', '>'],
      ['minimum', '≥'],
      ['maximum', '≤'],
      ['minLength', 'of at least % characters'],
      ['maxLength', 'of at most % characters'],
      ['pattern', 'matching'],
      ['minItems', 'of at least % items'],
      ['maxItems', 'of at most % items']
    ];
    const parts = words
      .filter(([key]) => limits[key] !== undefined)
      .map(([key, word]) =>
        word.includes('%') ? word.replace('%', String(limits[key])) : \`\${word} \${limits[key]}\`
      );
    return [what, ...parts].join(' ');
  }

  export function check(ok: boolean, path: string, expected: () => string, value: unknown): void {
    if (!ok) {
      throw new DecodeError(path, expected(), value);
    }
  }

  export function string(limits: ILimits = {}): Reader<string> {
    return (value, path) => {
      check(
        typeof value === 'string' &&
          !(limits.minLength !== undefined && value.length < limits.minLength) &&
          !(limits.maxLength !== undefined && value.length > limits.maxLength) &&
          !(limits.pattern !== undefined && !limits.pattern.test(value)),
        path,
        () => expectation('a string', limits),
        value
      );
      return value as string;
    };
  }

  export function number(limits: ILimits = {}): Reader<number> {
    return (value, path) => {
      check(
        typeof value === 'number' &&
          Number.isFinite(value) &&
          !(limits.integer === true && !Number.isInteger(value)) &&
          !(limits.minimum !== undefined && value < limits.minimum) &&
          !(limits.maximum !== undefined && value > limits.maximum) &&
          !(limits.exclusiveMinimum !== undefined && value <= limits.exclusiveMinimum),
        path,
        () => expectation(limits.integer === true ? 'an integer' : 'a number', limits),
        value
      );
      return value as number;
    };
  }

  export const boolean: Reader<boolean> = (value, path) => {
    check(typeof value === 'boolean', path, () => 'true or false', value);
    return value as boolean;
  };

  export function literal<T extends string | boolean>(expected: T): Reader<T> {
    return (value, path) => {
      check(value === expected, path, () => JSON.stringify(expected), value);
      return expected;
    };
  }

  export function member<T extends string>(values: readonly T[]): Reader<T> {
    return (value, path) => {
      check(values.includes(value as T), path, () => oneOf(values), value);
      return value as T;
    };
  }

  export function oneOf(values: readonly unknown[]): string {
    return \`one of \${values.map(v => JSON.stringify(v)).join(', ')}\`;
  }

  export function nullable<T>(read: Reader<T>): Reader<T | null> {
    return (value, path, drop) => {
      if (value === null) {
        return null;
      }
      try {
        return read(value, path, drop);
      } catch (error) {
        if (error instanceof DecodeError && error.path === path) {
          throw new DecodeError(path, \`null or \${error.expected}\`, value);
        }
        throw error;
      }
    };
  }

  export function optional<T>(read: Reader<T>): Reader<T | undefined> {
    return (value, path, drop) => (value === undefined ? undefined : read(value, path, drop));
  }

  export const record: Reader<Record<string, unknown>> = (value, path) => {
    check(
      typeof value === 'object' && value !== null && !Array.isArray(value),
      path,
      () => 'an object',
      value
    );
    return value as Record<string, unknown>;
  };

  /** An object with \`fields\`; a copy of them (fields it does not know are left out). */
  export function object<T>(fields: Fields<T>): Reader<T> {
    const entries = Object.entries(fields) as [string, Reader<unknown>][];
    return (value, path, drop) => {
      const o = record(value, path, drop);
      const out: Record<string, unknown> = {};
      for (const [key, read] of entries) {
        const field = read(o[key], \`\${path}.\${key}\`, drop);
        if (field !== undefined) {
          out[key] = field;
        }
      }
      return out as T;
    };
  }

  /**
   * One of several objects, told apart by the value of \`key\`. In an \`open\`
   * union (message types), a string nobody knows is a newer MINOR's.
   */
  export function variants<T>(key: string, cases: Record<string, Reader<T>>, open = false): Reader<T> {
    return (value, path, drop) => {
      const o = record(value, path, drop);
      const tag = o[key];
      const read = (typeof tag === 'string' || typeof tag === 'boolean') && Object.prototype.hasOwnProperty.call(cases, String(tag)) ? cases[String(tag)] : undefined;
      if (read === undefined) {
        throw new DecodeError(\`\${path}.\${key}\`, oneOf(Object.keys(cases)), tag, open && typeof tag === 'string');
      }
      return read(o, path, drop);
    };
  }

  export function array<T>(read: Reader<T>, limits: ILimits = {}): Reader<T[]> {
    return (value, path, drop) => {
      check(
        Array.isArray(value) &&
          !(limits.minItems !== undefined && value.length < limits.minItems) &&
          !(limits.maxItems !== undefined && value.length > limits.maxItems),
        path,
        () => expectation('an array', limits),
        value
      );
      const out: T[] = [];
      const seen = new Set<unknown>();
      (value as unknown[]).forEach((item, i) => {
        const at = \`\${path}[\${i}]\`;
        try {
          const decoded = read(item, at, drop);
          if (limits.uniqueBy !== undefined) {
            const id = (decoded as Record<string, unknown>)[limits.uniqueBy];
            check(!seen.has(id), \`\${at}.\${limits.uniqueBy}\`, () => 'an id not used before in this list', id);
            seen.add(id);
          }
          out.push(decoded);
        } catch (error) {
          if (limits.dropInvalid !== true || !(error instanceof DecodeError)) {
            throw error;
          }
          drop(error);
        }
      });
      return out;
    };
  }
`;

async function typescript(schema, constants, source, command, outFile) {
  const types = await compile(readerSchema(schema), 'IProtocolDefinitions', {
    bannerComment: '',
    additionalProperties: false,
    declareExternallyReferenced: true,
    format: false,
    ignoreMinAndMaxItems: true,
    strictIndexSignatures: true,
    unknownAny: true,
    unreachableDefinitions: false
  });
  const header =
    `/*\n * GENERATED from protocol.json (sha256 ${sha256(source)}) by scripts/generate-protocol.js; do not edit.\n` +
    ` * Regenerate with \`${command}\`.\n */\n\n` +
    jsdoc(
      `The Memory Doctor wire protocol ${constants.get('PROTOCOL_VERSION').value}: types, constants and decoders.`,
      'Types follow the reader view of protocol.json: a field added after 1.0 is optional, since a helper of an older MINOR leaves it out. Every decoder checks an untrusted value against the schema and returns a copy of the fields it knows, or throws a DecodeError naming the path that failed.'
    ).replace(/^\/\*\*/, '/**\n * @packageDocumentation\n *');
  const code =
    header +
    '\n/* eslint-disable @typescript-eslint/no-namespace */\n\n' +
    '// ---------------------------------------------------------------- types\n\n' +
    types +
    '\n' +
    tsConstants(schema, constants) +
    tsRequestMaps(schema) +
    tsDecoders(schema);
  const options = (await prettier.resolveConfig(outFile)) || PRETTIER_FALLBACK;
  return prettier.format(code, {
    ...PRETTIER_FALLBACK,
    ...options,
    parser: 'typescript'
  });
}

// ---------------------------------------------------------------------------
// Python

function pyValue(value) {
  if (typeof value === 'boolean') {
    return value ? 'True' : 'False';
  }
  if (value === null) {
    return 'None';
  }
  return typeof value === 'string' ? JSON.stringify(value) : String(value);
}

/** `#:` comment lines wrapped at the line length. */
function pyComment(text, indent = '', marker = '#:') {
  return wrap(text, PY_WIDTH - indent.length - marker.length - 1)
    .map(line => `${indent}${marker} ${line}\n`)
    .join('');
}

function wrap(text, width) {
  const lines = [];
  let line = '';
  for (const word of text.split(/\s+/).filter(Boolean)) {
    if (line && line.length + 1 + word.length > width) {
      lines.push(line);
      line = word;
    } else {
      line = line ? `${line} ${word}` : word;
    }
  }
  if (line) {
    lines.push(line);
  }
  return lines;
}

/** `head` + items + `tail` on one line if it fits, else one item a line (ruff format). */
function pyBracket(head, items, tail, open, close, indent = '') {
  const one = `${indent}${head}${open}${items.join(', ')}${close}${tail}`;
  if (one.length <= PY_WIDTH) {
    return `${one}\n`;
  }
  return `${indent}${head}${open}\n${items.map(i => `${indent}    ${i},\n`).join('')}${indent}${close}${tail}\n`;
}

/** Whether a reference to a plain type (a string, a number or null) is written out in Python. */
function isInlined(schema, node) {
  const def = resolve(schema, node);
  return !isObjectDef(def) && !def.enum && !unionMembers(def);
}

/** The Python annotation of a schema node. */
function pyType(schema, node) {
  if (typeof node.$ref === 'string') {
    return isInlined(schema, node)
      ? pyType(schema, resolve(schema, node))
      : refName(node.$ref);
  }
  if ('const' in node) {
    return `Literal[${pyValue(node.const)}]`;
  }
  const alternatives = node.anyOf || node.oneOf;
  if (alternatives) {
    return alternatives.map(a => pyType(schema, a)).join(' | ');
  }
  const types = Array.isArray(node.type) ? node.type : [node.type];
  return types
    .map(type => {
      switch (type) {
        case 'string':
          return 'str';
        case 'integer':
          return 'int';
        case 'number':
          return 'float';
        case 'boolean':
          return 'bool';
        case 'null':
          return 'None';
        case 'array':
          return `list[${pyType(schema, node.items)}]`;
        case 'object':
          return 'dict[str, Any]';
        default:
          return fail(`No Python type for ${JSON.stringify(node)}`);
      }
    })
    .join(' | ');
}

function python(schema, constants, source, command) {
  let out =
    `"""The Memory Doctor wire protocol ${constants.get('PROTOCOL_VERSION').value}: constants and the shapes of what the kernel sends.\n\n` +
    `GENERATED from protocol.json (sha256 ${sha256(source).slice(0, 16)}...) by\n` +
    `scripts/generate-protocol.js; do not edit. Regenerate with \`${command}\`.\n` +
    "The TypedDicts are the producer's view: every field is required, as a\n" +
    `${constants.get('PROTOCOL_VERSION').value} helper sends it.\n"""\n\n` +
    'from __future__ import annotations\n\n' +
    'from typing import Any, Final, Literal, TypedDict, Union\n\n' +
    '#: sha256 of the protocol.json this module was generated from (tests compare it).\n' +
    `SCHEMA_SHA256: Final = "${sha256(source)}"\n\n`;
  out +=
    '# ---------------------------------------------------------------- constants\n\n';
  for (const c of constants.values()) {
    out += pyComment(describeConstant(c));
    out += `${c.name}: Final = ${pyValue(c.value)}\n`;
  }
  out +=
    '\n# ---------------------------------------------------------------- enumerations\n\n';
  for (const [name, def] of Object.entries(schema.$defs)) {
    let values = def.enum;
    let constant = def['x-constant'];
    let type = name;
    if (def['x-types-constant']) {
      values = discriminator(schema, name).cases.map(c => c[0]);
      constant = def['x-types-constant'];
      type = typesType(name, def);
    }
    if (!values) {
      continue;
    }
    const literals = values.map(pyValue);
    out += pyComment(
      def['x-types-constant'] ? `The type of each ${name}.` : def.description,
      '',
      '#'
    );
    out += pyBracket(`${type} = Literal`, literals, '', '[', ']');
    out += pyBracket(
      `${constant}: Final[tuple[${type}, ...]] = `,
      literals,
      '',
      '(',
      ')'
    );
    const prefix = def['x-member-prefix'];
    if (prefix) {
      for (const value of values) {
        out += `${prefix}${value.toUpperCase()}: Final = ${pyValue(value)}\n`;
      }
    }
    out += '\n';
  }
  for (const [name, def] of Object.entries(schema.$defs)) {
    if (def['x-fields-constant']) {
      out += pyComment(`The fields of a ${name}, in the schema's order.`);
      out += pyBracket(
        `${def['x-fields-constant']}: Final = `,
        Object.keys(def.properties).map(pyValue),
        '',
        '(',
        ')'
      );
    }
    if (def['x-defaults-constant']) {
      out += pyComment(`The defaults of every ${name} option.`);
      out += pyBracket(
        `${def['x-defaults-constant']}: Final = `,
        Object.entries(def.properties).map(
          ([k, p]) => `${pyValue(k)}: ${pyValue(p.default)}`
        ),
        '',
        '{',
        '}'
      );
    }
  }
  // Aliases of unions are evaluated at import (Python 3.9 too), so they follow the classes.
  const classes = [];
  const unions = [];
  for (const name of decodedDefs(schema)) {
    const def = schema.$defs[name];
    const members = unionMembers(def);
    if (members && !def.type) {
      unions.push(
        pyComment(def.description, '', '#') +
          pyBracket(
            `${name} = Union`,
            members.map(m => refName(m.$ref)),
            '',
            '[',
            ']'
          )
      );
      continue;
    }
    if (!isObjectDef(def)) {
      continue; // enumerations are above; plain types are written out where used
    }
    const props = Object.entries(def.properties || {});
    if (props.some(([key]) => !(def.required || []).includes(key))) {
      fail(`${name}: the kernel sends it, so every field must be required.`);
    }
    let text = `class ${name}(TypedDict):\n`;
    text += `    """${wrap(def.description || name, PY_WIDTH - 10).join('\n    ')}"""\n\n`;
    for (const [key, prop] of props) {
      const about = prop.description || resolve(schema, prop).description;
      if (about && (typeof prop.$ref !== 'string' || isInlined(schema, prop))) {
        text += pyComment(about, '    ');
      }
      text += `    ${key}: ${pyType(schema, prop)}\n`;
    }
    classes.push(text);
  }
  out +=
    '\n# ---------------------------------------------------------------- shapes\n\n\n';
  out += classes.join('\n\n');
  out += `\n\n${unions.join('\n')}`;
  return out;
}

// ---------------------------------------------------------------------------
// Main

function parseArgs(argv) {
  const args = { ...DEFAULTS, check: false };
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    if (arg === '--check') {
      args.check = true;
    } else if (
      ['--schema', '--ts', '--py', '--command'].includes(arg) &&
      i + 1 < argv.length
    ) {
      args[arg.slice(2)] = argv[++i];
    } else {
      throw new Error(
        `Unknown argument ${arg}. Usage: node scripts/generate-protocol.js [--check] [--schema FILE] [--ts FILE] [--py FILE] [--command TEXT]`
      );
    }
  }
  return args;
}

async function main() {
  const args = parseArgs(process.argv.slice(2));
  const source = fs.readFileSync(args.schema, 'utf8');
  const schema = JSON.parse(source);
  const constants = readConstants(schema);
  lint(schema, constants);
  const outputs = [
    [
      args.ts,
      await typescript(
        schema,
        constants,
        source,
        args.command,
        path.resolve(args.ts)
      )
    ],
    [args.py, python(schema, constants, source, args.command)]
  ];
  let stale = 0;
  for (const [file, text] of outputs) {
    const current = fs.existsSync(file) ? fs.readFileSync(file, 'utf8') : null;
    if (current === text) {
      continue;
    }
    if (args.check) {
      stale++;
      console.error(
        `${file} is not what ${args.schema} generates; run \`${args.command}\`.`
      );
    } else {
      fs.mkdirSync(path.dirname(path.resolve(file)), { recursive: true });
      fs.writeFileSync(file, text);
      console.log(`wrote ${file}`);
    }
  }
  process.exitCode = stale ? 1 : 0;
}

main().catch(error => {
  console.error(
    error instanceof SchemaError ? `protocol.json: ${error.message}` : error
  );
  process.exitCode = 2;
});
