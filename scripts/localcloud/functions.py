"""Lambda functions, run in-process: imported once (like a warm container), invoked on a
bounded thread pool, each invocation with a Lambda-like context object."""

from __future__ import annotations

import asyncio
import importlib
import logging
import threading
import time
import traceback
import uuid
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

from localcloud.motoserver import ACCOUNT_ID, REGION
from localcloud.terraform import Function

log = logging.getLogger("localcloud")


class HandlerImportError(RuntimeError):
    """A handler named in Terraform cannot be imported: the local cloud refuses to start."""


class FunctionError(Exception):
    """The function raised, timed out or returned something API Gateway cannot use."""

    def __init__(self, function: str, message: str, request_id: str) -> None:
        super().__init__(f"{function}: {message}")
        self.function = function
        self.request_id = request_id


class LambdaContext:
    """The attributes and method of the Lambda Python runtime's context object."""

    def __init__(self, function: Function, request_id: str, deadline: float) -> None:
        self.function_name = function.key
        self.function_version = "$LATEST"
        self.invoked_function_arn = f"arn:aws:lambda:{REGION}:{ACCOUNT_ID}:function:{function.key}"
        self.memory_limit_in_mb = function.memory_size
        self.aws_request_id = request_id
        self.log_group_name = f"/aws/lambda/{function.key}"
        self.log_stream_name = "localcloud"
        self.identity = None
        self.client_context = None
        self._deadline = deadline

    def get_remaining_time_in_millis(self) -> int:
        return max(0, int((self._deadline - time.monotonic()) * 1000))


@dataclass
class LoadedFunction:
    spec: Function
    handler: Callable[[Any, Any], Any]
    semaphore: asyncio.Semaphore | None = None


def load_functions(functions: Mapping[str, Function]) -> dict[str, LoadedFunction]:
    """Import every handler Terraform names. Any failure stops start-up with the reason."""
    loaded: dict[str, LoadedFunction] = {}
    problems: list[str] = []
    for key, spec in functions.items():
        try:
            module = importlib.import_module(spec.module)
            handler = getattr(module, spec.attribute)
            if not callable(handler):
                raise TypeError(f"{spec.handler} is not callable")
        except Exception as e:
            detail = "".join(traceback.format_exception_only(type(e), e)).strip()
            problems.append(
                f"  function {key!r}: handler {spec.handler!r} does not import: {detail}"
            )
            continue
        loaded[key] = LoadedFunction(spec, handler)
    if problems:
        raise HandlerImportError(
            "cannot start: a handler named in Terraform (local.lambda_functions) does not "
            "import:\n" + "\n".join(problems)
        )
    return loaded


class Invoker:
    """Runs handlers on a bounded pool. Each function also has its own concurrency bound,
    like a reserved concurrency, so one busy function cannot take every worker."""

    def __init__(
        self, functions: dict[str, LoadedFunction], workers: int, per_function: int
    ) -> None:
        self.functions = functions
        # Called after every invocation (the stream poller polls at once: a function may
        # have just written to a table with a stream).
        self.after_invoke: list[Callable[[str], None]] = []
        self.executor = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="lambda")
        for function in functions.values():
            function.semaphore = asyncio.Semaphore(per_function)

    async def invoke(self, key: str, event: dict[str, Any]) -> tuple[Any, str, float]:
        """Returns (result, request id, duration in ms); raises FunctionError."""
        function = self.functions[key]
        request_id = str(uuid.uuid4())
        loop = asyncio.get_running_loop()
        assert function.semaphore is not None
        async with function.semaphore:
            started = time.monotonic()
            deadline = started + function.spec.timeout
            context = LambdaContext(function.spec, request_id, deadline)
            future = loop.run_in_executor(self.executor, _call, function.handler, event, context)
            try:
                result = await asyncio.wait_for(future, timeout=function.spec.timeout)
            except TimeoutError as e:
                # The thread cannot be killed; its result is dropped, as Lambda drops it.
                raise FunctionError(
                    key, f"Task timed out after {function.spec.timeout:.2f} seconds", request_id
                ) from e
            except Exception as e:
                log.error(
                    "%s raised (request %s):\n%s",
                    key,
                    request_id,
                    "".join(traceback.format_exception(e)).rstrip(),
                )
                raise FunctionError(key, f"{type(e).__name__}: {e}", request_id) from e
            finally:
                for hook in self.after_invoke:
                    hook(key)
            return result, request_id, (time.monotonic() - started) * 1000

    def shutdown(self) -> None:
        self.executor.shutdown(wait=False, cancel_futures=True)


# Which function this worker thread runs (the fault injection's DynamoDB rules can target one).
running = threading.local()


def _call(handler: Callable[[Any, Any], Any], event: Any, context: LambdaContext) -> Any:
    running.function = context.function_name
    try:
        return handler(event, context)
    finally:
        running.function = None
