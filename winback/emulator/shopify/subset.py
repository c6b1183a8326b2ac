"""Check that one GraphQL schema is a true subset of another (our SDL against Shopify's).

"Subset" means a document valid against ours is valid against the real schema and asks for the
same types: every named type exists with the same kind; every field, argument and input field we
declare exists with the identical type string (nullability and list wrapping included); enum
values, union members and implemented interfaces are subsets; and no argument or input field that
the real schema requires is missing from ours.
"""

from __future__ import annotations

from graphql import (
    GraphQLEnumType,
    GraphQLInputObjectType,
    GraphQLInterfaceType,
    GraphQLObjectType,
    GraphQLScalarType,
    GraphQLSchema,
    GraphQLUnionType,
    is_required_argument,
    is_required_input_field,
)

_KINDS = (
    GraphQLObjectType,
    GraphQLInterfaceType,
    GraphQLInputObjectType,
    GraphQLEnumType,
    GraphQLUnionType,
    GraphQLScalarType,
)


def _kind(named: object) -> str:
    for cls in _KINDS:
        if isinstance(named, cls):
            return cls.__name__.removeprefix("GraphQL").removesuffix("Type")
    return type(named).__name__


def subset_problems(ours: GraphQLSchema, real: GraphQLSchema) -> list[str]:
    """Everything in ``ours`` that is not in ``real`` exactly; empty when ours is a true subset."""
    problems: list[str] = []
    for root in ("query_type", "mutation_type"):
        mine, theirs = getattr(ours, root), getattr(real, root)
        if mine is not None and (theirs is None or mine.name != theirs.name):
            problems.append(f"root {root}: {mine.name} is not the real root type")
    for name, mine in ours.type_map.items():
        if name.startswith("__"):
            continue
        theirs = real.type_map.get(name)
        if theirs is None:
            problems.append(f"type {name} does not exist in the real schema")
            continue
        if _kind(mine) != _kind(theirs):
            problems.append(f"type {name} is {_kind(mine)} here but {_kind(theirs)} in the real schema")
            continue
        if isinstance(mine, (GraphQLObjectType, GraphQLInterfaceType)):
            assert isinstance(theirs, (GraphQLObjectType, GraphQLInterfaceType))
            real_interfaces = {i.name for i in theirs.interfaces}
            for interface in mine.interfaces:
                if interface.name not in real_interfaces:
                    problems.append(f"{name} implements {interface.name}, the real type does not")
            for field_name, field in mine.fields.items():
                real_field = theirs.fields.get(field_name)
                if real_field is None:
                    problems.append(f"field {name}.{field_name} does not exist in the real schema")
                    continue
                if str(field.type) != str(real_field.type):
                    problems.append(f"field {name}.{field_name}: {field.type} here, {real_field.type} in the real schema")
                for arg_name, arg in field.args.items():
                    real_arg = real_field.args.get(arg_name)
                    if real_arg is None:
                        problems.append(f"argument {name}.{field_name}({arg_name}) does not exist in the real schema")
                    elif str(arg.type) != str(real_arg.type):
                        problems.append(
                            f"argument {name}.{field_name}({arg_name}): {arg.type} here, {real_arg.type} in the real schema"
                        )
                for arg_name, real_arg in real_field.args.items():
                    if is_required_argument(real_arg) and arg_name not in field.args:
                        problems.append(f"required argument {name}.{field_name}({arg_name}) is missing here")
        elif isinstance(mine, GraphQLInputObjectType):
            assert isinstance(theirs, GraphQLInputObjectType)
            for field_name, input_field in mine.fields.items():
                real_input = theirs.fields.get(field_name)
                if real_input is None:
                    problems.append(f"input field {name}.{field_name} does not exist in the real schema")
                elif str(input_field.type) != str(real_input.type):
                    problems.append(
                        f"input field {name}.{field_name}: {input_field.type} here, {real_input.type} in the real schema"
                    )
            for field_name, real_input in theirs.fields.items():
                if is_required_input_field(real_input) and field_name not in mine.fields:
                    problems.append(f"required input field {name}.{field_name} is missing here")
        elif isinstance(mine, GraphQLEnumType):
            assert isinstance(theirs, GraphQLEnumType)
            extra = set(mine.values) - set(theirs.values)
            if extra:
                problems.append(f"enum {name} has values the real one lacks: {sorted(extra)}")
        elif isinstance(mine, GraphQLUnionType):
            assert isinstance(theirs, GraphQLUnionType)
            extra = {t.name for t in mine.types} - {t.name for t in theirs.types}
            if extra:
                problems.append(f"union {name} has members the real one lacks: {sorted(extra)}")
    return problems
