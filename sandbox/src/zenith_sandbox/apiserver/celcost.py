"""Static checks of a CRD's x-kubernetes-validations rules, as kube-apiserver does them.

For every rule: it must compile (cel-python's parser) and every field it selects on a
typed object must exist in the schema (cel-go's type check: `undefined field 'x'`). Its
cost is estimated the way cel-go's checker estimates it — sizes of strings, lists and maps
come from maxLength/maxItems/maxProperties, else from the 3 MiB request limit — and
multiplied by how often the rule can run (the product of maxItems/maxProperties above it).
A rule over 10,000,000 or a CRD over 100,000,000 in total is Forbidden with apiextensions'
wording. The estimate follows cel-go's cost model for the operators and macros CRD rules
use; it is not exact, but a rule that omits the bounds kube-apiserver asks for fails here
as it fails there.

Length: one cost table per CEL operator and macro with the one walker that applies them.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from lark import Token, Tree

from . import cel
from .errors import FieldError, GoStruct

Schema = dict[str, Any]
MAX_REQUEST = 3 * 1024 * 1024
RULE_LIMIT = 10_000_000
CRD_LIMIT = 100_000_000
UNKNOWN = float(2**64 - 1)
_STRING_FACTOR = 0.1
_REGEX_FACTOR = 0.25
_MACROS = {"all", "exists", "exists_one", "map", "filter"}
# cel-go's cost of one iteration of each macro besides its body, and the fixed part.
_MACRO_COST = {
    "all": (3, 1),
    "exists": (4, 1),
    "exists_one": (2, 2),
    "map": (12, 11),
    "filter": (13, 11),
}


@dataclass(frozen=True)
class Est:
    """Estimated max cost of an expression, max size of its value, and its schema."""

    cost: float
    size: float = UNKNOWN
    schema: Schema | None = None
    typed: bool = False  # a value whose fields are known (select costs 1, fields checked)


class CompileError(Exception):
    pass


def _mul(a: float, b: float) -> float:
    return min(a * b, UNKNOWN)


def _factor(size: float, factor: float) -> float:
    return min(math.ceil(size * factor), UNKNOWN)


def min_size(s: Schema | None) -> int:
    """DeclType.MinSerializedSize: the fewest JSON bytes a value of `s` takes."""
    if not s or s.get("x-kubernetes-int-or-string"):
        return 1
    t = s.get("type")
    if t == "string":
        return {"date": 12, "date-time": 21, "duration": 3}.get(s.get("format", ""), 2)
    if t == "boolean":
        return 4
    if t in ("integer", "number"):
        return 1
    if t == "object" and not isinstance(s.get("additionalProperties"), dict):
        total = 2
        for name in s.get("required") or []:
            sub = (s.get("properties") or {}).get(name)
            if sub is not None and "default" not in sub:
                total += len(name) + min_size(sub) + 4
        return total
    return 2


def max_size(s: Schema | None) -> float:
    """DeclType.MaxElements: max length of a string, items of a list, entries of a map."""
    if not s:
        return UNKNOWN
    if s.get("x-kubernetes-int-or-string"):
        return float(s["maxLength"] * 4) if "maxLength" in s else MAX_REQUEST - 2
    t = s.get("type")
    if t == "string":
        if "maxLength" in s:
            return float(s["maxLength"] * 4)
        if s.get("enum"):
            return max(len(str(v)) for v in s["enum"])
        return {"date": 10, "date-time": 35, "duration": 64}.get(
            s.get("format", ""), MAX_REQUEST - 2
        )
    if t == "array":
        if "maxItems" in s:
            return float(s["maxItems"])
        return (MAX_REQUEST - 2) // (min_size(s.get("items")) + 1)
    if t == "object" and isinstance(s.get("additionalProperties"), dict):
        if "maxProperties" in s:
            return float(s["maxProperties"])
        return (MAX_REQUEST - 2) // (min_size(s["additionalProperties"]) + 6)
    return 1


def _from_schema(s: Schema | None, cost: float) -> Est:
    if s is None:
        return Est(cost)
    typed = s.get("type") == "object" and not isinstance(s.get("additionalProperties"), dict)
    typed = typed and not s.get("x-kubernetes-int-or-string")
    return Est(cost, max_size(s), s, typed)


def _is_map(s: Schema | None) -> bool:
    return bool(s) and s.get("type") == "object" and isinstance(s.get("additionalProperties"), dict)  # type: ignore[union-attr]


def _element(s: Schema | None) -> Schema | None:
    if not s:
        return None
    if s.get("type") == "array" and isinstance(s.get("items"), dict):
        items: Schema = s["items"]
        return items
    addl = s.get("additionalProperties")
    if s.get("type") == "object" and isinstance(addl, dict):
        return addl
    return None


class Estimator:
    """Walks a cel-python parse tree with the schema of `self` (and `oldSelf`)."""

    def __init__(self, schema: Schema, root: bool, source: str = "") -> None:
        self.self_schema = _with_meta(schema) if root else schema
        self.scopes: list[dict[str, Est]] = []
        self.source = source

    def estimate(self, tree: Tree[Any]) -> Est:
        return self._expr(tree)

    def _expr(self, t: Any) -> Est:
        """One branch per grammar rule of cel-python's parse tree."""
        if isinstance(t, Token):
            return Est(0)
        kids = t.children
        rule = t.data
        if rule == "expr" and len(kids) == 3:
            c, a, b = (self._expr(k) for k in kids)
            return Est(c.cost + max(a.cost, b.cost), max(a.size, b.size))
        if rule in ("conditionalor", "conditionaland") and len(kids) == 2:
            a, b = (self._expr(k) for k in kids)
            return Est(a.cost + b.cost, 1)
        if rule in ("relation", "addition", "multiplication", "unary") and len(kids) == 2:
            return self._operator(kids[0], kids[1])
        if rule == "member_dot":
            return self._select(self._expr(kids[0]), kids[1])
        if rule == "member_dot_arg":
            return self._method(kids[0], str(kids[1]), kids[2] if len(kids) > 2 else None)
        if rule == "member_index":
            target, index = self._expr(kids[0]), self._expr(kids[1])
            return _from_schema(_element(target.schema), 1 + target.cost + index.cost)
        if rule == "ident":
            return self._ident(str(kids[0]))
        if rule == "ident_arg":
            return self._call(str(kids[0]), kids[1] if len(kids) > 1 else None)
        if rule == "literal":
            return _literal(kids[0])
        if rule == "list_lit":
            items = self._args(kids[0] if kids else None)
            return Est(10 + sum(i.cost for i in items), len(items))
        if rule == "map_lit":
            parts = self._args(kids[0] if kids else None)
            return Est(30 + sum(p.cost for p in parts), len(parts) // 2)
        if len(kids) == 1:
            return self._expr(kids[0])
        return Est(1 + sum(self._expr(k).cost for k in kids))

    def _args(self, exprlist: Any) -> list[Est]:
        if exprlist is None:
            return []
        return [self._expr(k) for k in exprlist.children]

    def _ident(self, name: str) -> Est:
        for scope in reversed(self.scopes):
            if name in scope:
                return Est(1, scope[name].size, scope[name].schema, scope[name].typed)
        if name in ("self", "oldSelf"):
            return _from_schema(self.self_schema, 1)
        return Est(1)

    def _select(self, target: Est, field: Any) -> Est:
        name = str(field)
        if target.typed and target.schema is not None:
            props = target.schema.get("properties") or {}
            if name not in props:
                raise CompileError(self._located(field, f"undefined field '{name}'"))
            return _from_schema(props[name], target.cost + 1)
        sub = _element(target.schema)
        return _from_schema(sub, target.cost + (1 if target.schema is not None else 0))

    def _located(self, field: Any, message: str) -> str:
        """cel-go's error: position of the `.` before `field`, then the source and a caret."""
        line = getattr(field, "line", 1)
        col = getattr(field, "column", 2) - 1
        text = self.source.splitlines()[line - 1] if self.source else ""
        return f"ERROR: <input>:{line}:{col}: {message}\n | {text}\n | {'.' * (col - 1)}^"

    def _operator(self, op_tree: Any, rhs_tree: Any) -> Est:
        op = op_tree.data if isinstance(op_tree, Tree) else ""
        lhs = self._expr(op_tree.children[0]) if op_tree.children else Est(0)
        rhs = self._expr(rhs_tree)
        args = lhs.cost + rhs.cost
        if op in ("relation_in",):
            return Est(rhs.size + args, 1)
        if op in ("relation_eq", "relation_ne", "relation_lt", "relation_gt", "relation_le",
                  "relation_ge"):  # fmt: skip
            smallest = min(lhs.size, rhs.size)
            return Est(_factor(smallest, _STRING_FACTOR) + args, 1)
        if op == "addition_add" and _is_text(lhs, rhs):
            size = min(lhs.size + rhs.size, UNKNOWN)
            return Est(_factor(size, _STRING_FACTOR) + args, size)
        if op == "addition_add" and _is_list(lhs, rhs):
            return Est(1 + args, min(lhs.size + rhs.size, UNKNOWN), lhs.schema or rhs.schema)
        return Est(1 + args, 1)

    def _call(self, name: str, exprlist: Any) -> Est:
        if name == "has" and exprlist is not None:
            inner = exprlist.children[0]
            member = _find(inner, "member_dot")
            if member is not None:
                target = self._expr(member.children[0])
                self._select(target, member.children[1])
                return Est(1 + target.cost, 1)
        args = self._args(exprlist)
        return Est(1 + sum(a.cost for a in args), 1)

    def _method(self, target_tree: Any, name: str, exprlist: Any) -> Est:
        target = self._expr(target_tree)
        if name in _MACROS and exprlist is not None and len(exprlist.children) == 2:
            var = str(_find_token(exprlist.children[0]))
            if _is_map(target.schema):  # a macro over a map binds its keys: strings that
                # share the request with their entries (cel-go's size for the key)
                bound = Est(1, (MAX_REQUEST - 2) / max(target.size, 1), {"type": "string"})
            else:
                bound = _from_schema(_element(target.schema), 1)
            self.scopes.append({var: bound})
            try:
                body = self._expr(exprlist.children[1])
            finally:
                self.scopes.pop()
            per_iter, fixed = _MACRO_COST[name]
            cost = target.cost + fixed + _mul(target.size, body.cost + per_iter)
            size = target.size if name in ("map", "filter") else 1
            return Est(cost, size, target.schema if name == "filter" else None)
        args = self._args(exprlist)
        arg_cost = sum(a.cost for a in args) + target.cost
        if name in ("startsWith", "endsWith") and args:
            return Est(_factor(args[0].size, _STRING_FACTOR) + arg_cost, 1)
        if name == "contains" and args:
            work = _mul(_factor(target.size, _STRING_FACTOR), _factor(args[0].size, _STRING_FACTOR))
            return Est(work + arg_cost, 1)
        if name == "matches" and args:
            text = _factor(target.size + 1, _STRING_FACTOR)
            return Est(_mul(text, _factor(args[0].size, _REGEX_FACTOR)) + arg_cost, 1)
        return Est(1 + arg_cost, 1)


def _is_text(a: Est, b: Est) -> bool:
    return any(e.schema is not None and e.schema.get("type") == "string" for e in (a, b))


def _is_list(a: Est, b: Est) -> bool:
    return any(e.schema is not None and e.schema.get("type") == "array" for e in (a, b))


def _literal(token: Any) -> Est:
    text = str(token)
    if getattr(token, "type", "") in ("STRING_LIT", "MLSTRING_LIT", "BYTES_LIT"):
        quote = 3 if text.lstrip("rRbB").startswith(('"""', "'''")) else 1
        body = text.lstrip("rRbB")
        return Est(0, max(len(body) - 2 * quote, 0))
    return Est(0, 1)


def _find(t: Any, rule: str) -> Any:
    """The first subtree named `rule` along a chain of single children."""
    while isinstance(t, Tree):
        if t.data == rule:
            return t
        if len(t.children) != 1:
            return None
        t = t.children[0]
    return None


def _find_token(t: Any) -> Any:
    while isinstance(t, Tree) and t.children:
        t = t.children[0]
    return t


def _with_meta(s: Schema) -> Schema:
    """The root of a resource also exposes apiVersion, kind, metadata.name/generateName."""
    props = dict(s.get("properties") or {})
    props.setdefault("apiVersion", {"type": "string"})
    props.setdefault("kind", {"type": "string"})
    props["metadata"] = {
        "type": "object",
        "properties": {"name": {"type": "string"}, "generateName": {"type": "string"}},
    }
    return {**s, "properties": props}


def _factor_message(name: str, cost: float, limit: int) -> str:
    factor = cost / limit
    if factor > 100:
        text = "more than 100x"
    elif factor < 1.5:
        text = f"{factor:f}x"
    else:
        text = f"{factor:.1f}x"
    return (
        f"{name} exceeds budget by factor of {text} (try simplifying the rule, or adding "
        "maxItems, maxProperties, and maxLength where arrays, maps, and strings are declared)"
    )


def rule_errors(root: Schema, base: str) -> list[FieldError]:
    """Compile errors and cost limits of every rule under `root` (at field path `base`)."""
    errs: list[FieldError] = []
    total: list[tuple[float, str]] = []
    _walk(root, base, 1.0, True, errs, total)
    grand = min(sum(c for c, _ in total), UNKNOWN)
    if grand > CRD_LIMIT:
        expensive = sorted((t for t in total if t[0] >= CRD_LIMIT / 100), reverse=True)[:4]
        for _, where in expensive:
            errs.append(
                FieldError(
                    "forbidden",
                    where,
                    detail="contributed to estimated rule cost total exceeding cost limit "
                    "for entire OpenAPIv3 schema",
                )
            )
        errs.append(
            FieldError(
                "forbidden",
                base,
                detail=_factor_message(
                    "x-kubernetes-validations estimated rule cost total for entire OpenAPIv3 "
                    "schema",
                    grand,
                    CRD_LIMIT,
                ),
            )
        )
    return errs


def _walk(
    s: Any,
    path: str,
    cardinality: float | None,
    root: bool,
    errs: list[FieldError],
    total: list[tuple[float, str]],
    uncorrelatable: str | None = None,
) -> None:
    """`uncorrelatable`: the highest list (not list-type map) or atomic map above `s`,
    below which old and new values cannot be paired, so rules may not use oldSelf."""
    if not isinstance(s, dict):
        return
    for i, rule in enumerate(s.get("x-kubernetes-validations") or []):
        where = f"{path}.x-kubernetes-validations[{i}].rule"
        cost = _rule_cost(s, rule, root, where, errs)
        if cost is None:
            continue
        if uncorrelatable is not None and cel.is_transition(str(rule.get("rule", ""))):
            errs.append(
                FieldError(
                    "invalid",
                    where,
                    rule.get("rule", ""),
                    "oldSelf cannot be used on the uncorrelatable portion of the schema "
                    f"within {uncorrelatable}",
                )
            )
        times = cardinality if cardinality is not None else MAX_REQUEST // (min_size(s) + 1)
        expression = _mul(cost, times)
        if expression > RULE_LIMIT:
            detail = _factor_message("estimated rule cost", expression, RULE_LIMIT)
            errs.append(FieldError("forbidden", where, detail=detail))
        total.append((expression, where))
    grow = _growth(s)
    child = None if cardinality is None or grow is None else _mul(cardinality, grow)
    atomic = s.get("x-kubernetes-map-type") == "atomic"
    in_map = uncorrelatable or (path if atomic else None)
    for key, sub in (s.get("properties") or {}).items():
        if root and key in ("apiVersion", "kind", "metadata"):
            continue
        _walk(sub, f"{path}.properties[{key}]", child, False, errs, total, in_map)
    if isinstance(s.get("items"), dict):
        keyed = s.get("x-kubernetes-list-type") == "map"
        in_list = uncorrelatable or (None if keyed else path)
        _walk(s["items"], f"{path}.items", child, False, errs, total, in_list)
    if isinstance(s.get("additionalProperties"), dict):
        where = f"{path}.additionalProperties"
        _walk(s["additionalProperties"], where, child, False, errs, total, in_map)


def _growth(s: Schema) -> float | None:
    """extractMaxElements: how many children one value of `s` can hold (None: unbounded)."""
    if s.get("type") == "array":
        return float(s["maxItems"]) if "maxItems" in s else None
    if s.get("type") == "object" and "additionalProperties" in s:
        return float(s["maxProperties"]) if "maxProperties" in s else None
    return 1.0


def _rule_cost(
    s: Schema, rule: dict[str, Any], root: bool, where: str, errs: list[FieldError]
) -> float | None:
    expr = str(rule.get("rule", ""))
    if not expr.strip():
        return None
    if (err := cel.compile_error(expr)) is not None:
        errs.append(FieldError("invalid", where, _internal(rule), f"compilation failed: {err}"))
        return None
    try:
        tree = cel.parse(expr)
        return Estimator(s, root, expr).estimate(tree).cost
    except CompileError as e:
        errs.append(FieldError("invalid", where, _internal(rule), f"compilation failed: {e}"))
        return None


def _internal(rule: dict[str, Any]) -> GoStruct:
    """The rule as kube-apiserver prints it: its internal Go struct through json.Marshal
    (no json tags, so field names as in Go)."""
    return GoStruct(
        {
            "Rule": rule.get("rule", ""),
            "Message": rule.get("message", ""),
            "MessageExpression": rule.get("messageExpression", ""),
            "Reason": rule.get("reason"),
            "FieldPath": rule.get("fieldPath", ""),
            "OptionalOldSelf": rule.get("optionalOldSelf"),
        }
    )
