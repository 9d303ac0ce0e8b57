// Adding one clause to a CloudWatch filter pattern, as the facets and the detail panel's JSON
// click-to-filter do. JSON clauses (`$.a = "x"`) join an existing JSON pattern with &&; word terms
// (`ERROR`, `-ERROR`) join a term pattern with a space (an AND). The two kinds cannot be mixed in
// one CloudWatch pattern, so a clause of the other kind replaces the pattern.

const isJson = (t) => t.startsWith('{') && t.endsWith('}');

export function addJson(q, clause) {
  const t = (q || '').trim();
  if (isJson(t)) {
    const inner = t.slice(1, -1).trim();
    if (!inner) return `{ ${clause} }`;
    if (inner === clause || inner.includes(`(${clause})`)) return t;
    const wrapped = /^\(.*\)$/.test(inner) ? inner : `(${inner})`;
    return `{ ${wrapped} && (${clause}) }`;
  }
  return `{ ${clause} }`;
}

export function addTerm(q, term) {
  const t = (q || '').trim();
  if (!t) return term;
  if (isJson(t) || t.startsWith('[') || t.includes('%')) return term;
  return t.split(/\s+/).includes(term) ? t : `${t} ${term}`;
}

/** q with `clause` added; kind is 'json' or 'term'. */
export function addClause(q, kind, clause) {
  return kind === 'json' ? addJson(q, clause) : addTerm(q, clause);
}
