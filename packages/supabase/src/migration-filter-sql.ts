import type { MigrationNames } from './migration-names.js'

/**
 * The filter evaluator: a validated filter travels as a jsonb tree (core's `FilterNode`, as
 * JSON) and `filter_sql` turns it into a condition on `t.metadata`. The tree is data, never SQL:
 * kinds and operators come from fixed lists, field names must be plain identifiers and are
 * quoted with %L as jsonb keys, values are quoted with %L. Anyone signed in can call the
 * functions with any JSON, so the checks here are the real ones; the client's are a courtesy.
 * The condition selects exactly what core's `matchesFilter` accepts: equality by containment
 * (so `true` never equals `1`), a list field "contains" a string, `$ne`/`$nin` also match a
 * missing field, and ranges compare numbers as numbers and strings by code point.
 */
export function filterSql({ data }: MigrationNames): string {
  const invalid = (message: string) =>
    `RAISE EXCEPTION USING ERRCODE = '22023', DETAIL = 'engram:INVALID_ARGUMENT', MESSAGE = ${message}`
  return `
CREATE OR REPLACE FUNCTION ${data}.filter_equals(p_field text, p_value jsonb) RETURNS text
LANGUAGE plpgsql IMMUTABLE SET search_path = '' AS $fn$
BEGIN
  IF pg_catalog.jsonb_typeof(p_value) = 'string' THEN
    -- Metadata lists hold only strings, so only a string can be "contained" in one.
    RETURN pg_catalog.format('t.metadata @> %L::jsonb OR t.metadata @> %L::jsonb',
      pg_catalog.jsonb_build_object(p_field, p_value)::text,
      pg_catalog.jsonb_build_object(p_field, pg_catalog.jsonb_build_array(p_value))::text);
  END IF;
  IF pg_catalog.jsonb_typeof(p_value) IN ('number', 'boolean') THEN
    RETURN pg_catalog.format('t.metadata @> %L::jsonb', pg_catalog.jsonb_build_object(p_field, p_value)::text);
  END IF;
  ${invalid(`pg_catalog.format('engram: filter values are strings, numbers or booleans; %s has %s', p_field, coalesce(pg_catalog.jsonb_typeof(p_value), 'no value'))`)};
END
$fn$;

CREATE OR REPLACE FUNCTION ${data}.filter_node(p_node jsonb, p_depth integer) RETURNS text
LANGUAGE plpgsql IMMUTABLE SET search_path = '' AS $fn$
DECLARE
  kind text := CASE WHEN pg_catalog.jsonb_typeof(p_node) = 'object' THEN p_node ->> 'kind' END;
  op text := CASE WHEN pg_catalog.jsonb_typeof(p_node -> 'op') = 'string' THEN p_node ->> 'op' END;
  field text := p_node ->> 'field';
  value jsonb := p_node -> 'value';
  parts text[] := '{}';
  item jsonb;
  range_op text;
BEGIN
  IF kind IN ('and', 'or') THEN
    IF p_depth >= 32 THEN
      ${invalid(`'engram: the filter nests $and/$or more than 32 levels deep; flatten it'`)};
    END IF;
    IF pg_catalog.jsonb_typeof(p_node -> 'children') IS DISTINCT FROM 'array' THEN
      ${invalid(`'engram: an and/or filter node needs a children array'`)};
    END IF;
    FOR item IN SELECT e.value FROM pg_catalog.jsonb_array_elements(p_node -> 'children') AS e LOOP
      parts := parts || ${data}.filter_node(item, p_depth + 1);
    END LOOP;
    IF pg_catalog.cardinality(parts) = 0 THEN
      RETURN CASE kind WHEN 'and' THEN 'TRUE' ELSE 'FALSE' END;
    END IF;
    RETURN '(' || pg_catalog.array_to_string(parts, CASE kind WHEN 'and' THEN ' AND ' ELSE ' OR ' END) || ')';
  END IF;
  IF kind IS NULL OR kind NOT IN ('compare', 'in', 'exists') THEN
    ${invalid(`'engram: a filter node is an object whose kind is and, or, compare, in or exists'`)};
  END IF;
  IF pg_catalog.jsonb_typeof(p_node -> 'field') IS DISTINCT FROM 'string'
    OR field OPERATOR(pg_catalog.!~) '^[A-Za-z_][A-Za-z0-9_]{0,63}$' THEN
    ${invalid(`'engram: filter field names are plain identifiers: letters, digits and _ (at most 64)'`)};
  END IF;
  IF kind = 'exists' THEN
    IF pg_catalog.jsonb_typeof(p_node -> 'exists') IS DISTINCT FROM 'boolean' THEN
      ${invalid(`'engram: an exists filter node needs exists: true or false'`)};
    END IF;
    IF (p_node -> 'exists')::boolean THEN
      RETURN pg_catalog.format('(t.metadata ? %L)', field);
    END IF;
    RETURN pg_catalog.format('(t.metadata IS NULL OR NOT (t.metadata ? %L))', field);
  END IF;
  IF kind = 'in' THEN
    IF op IS NULL OR op NOT IN ('$in', '$nin') THEN
      ${invalid(`'engram: an in filter node has op $in or $nin'`)};
    END IF;
    IF pg_catalog.jsonb_typeof(p_node -> 'values') IS DISTINCT FROM 'array' THEN
      ${invalid(`'engram: an in filter node needs a values array'`)};
    END IF;
    FOR item IN SELECT e.value FROM pg_catalog.jsonb_array_elements(p_node -> 'values') AS e LOOP
      parts := parts || ${data}.filter_equals(field, item);
    END LOOP;
    IF pg_catalog.cardinality(parts) = 0 THEN
      RETURN CASE op WHEN '$in' THEN 'FALSE' ELSE 'TRUE' END;
    END IF;
    IF op = '$in' THEN
      RETURN '(' || pg_catalog.array_to_string(parts, ' OR ') || ')';
    END IF;
    RETURN '(t.metadata IS NULL OR NOT (' || pg_catalog.array_to_string(parts, ' OR ') || '))';
  END IF;
  IF op = '$eq' THEN
    RETURN '(' || ${data}.filter_equals(field, value) || ')';
  END IF;
  IF op = '$ne' THEN
    RETURN '(t.metadata IS NULL OR NOT (' || ${data}.filter_equals(field, value) || '))';
  END IF;
  range_op := CASE op WHEN '$gt' THEN '>' WHEN '$gte' THEN '>=' WHEN '$lt' THEN '<' WHEN '$lte' THEN '<=' END;
  IF range_op IS NULL THEN
    ${invalid(`'engram: a compare filter node has op $eq, $ne, $gt, $gte, $lt or $lte'`)};
  END IF;
  IF pg_catalog.jsonb_typeof(value) = 'number' THEN
    -- jsonb numbers compare as numeric, exactly; the type check keeps strings and booleans out.
    RETURN pg_catalog.format('(jsonb_typeof(t.metadata -> %1$L) = ''number'' AND (t.metadata -> %1$L) %2$s %3$L::jsonb)',
      field, range_op, value::text);
  END IF;
  IF pg_catalog.jsonb_typeof(value) = 'string' THEN
    RETURN pg_catalog.format('(jsonb_typeof(t.metadata -> %1$L) = ''string'' AND (t.metadata ->> %1$L) COLLATE "C" %2$s (%3$L COLLATE "C"))',
      field, range_op, value #>> '{}');
  END IF;
  ${invalid(`pg_catalog.format('engram: %s on %s compares order, so it needs a number or a string', op, field)`)};
END
$fn$;

-- The condition for a whole filter; NULL (or JSON null) matches everything.
CREATE OR REPLACE FUNCTION ${data}.filter_sql(p_filter jsonb) RETURNS text
LANGUAGE plpgsql IMMUTABLE SET search_path = '' AS $fn$
BEGIN
  IF p_filter IS NULL OR p_filter = 'null'::jsonb THEN
    RETURN 'TRUE';
  END IF;
  -- Bounds as core's validateFilter sets them, counted before any SQL is built (silently: a malformed
  -- tree is reported by filter_node).
  IF pg_catalog.jsonb_array_length(pg_catalog.jsonb_path_query_array(p_filter, 'strict $.** ? (exists (@.field))', '{}', true)) > 1000 THEN
    ${invalid(`'engram: the filter holds more than 1000 conditions; split the query or use $in'`)};
  END IF;
  IF pg_catalog.jsonb_array_length(pg_catalog.jsonb_path_query_array(p_filter, 'strict $.** ? (exists (@.values)).values[*]', '{}', true)) > 100000 THEN
    ${invalid(`'engram: the filter lists more than 100000 values in $in/$nin together'`)};
  END IF;
  RETURN ${data}.filter_node(p_filter, 0);
END
$fn$;
`
}
