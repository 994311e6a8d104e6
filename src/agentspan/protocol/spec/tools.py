"""Tools an agent offers its model: a tagged union discriminated on ``toolType``.

Every variant is a :class:`ToolConfig` with the common fields and a ``config`` model of its
own; build the variant you mean (``WorkerTool(...)``), or parse a document with
``parse_tool``. A ``toolType`` this server has no model for becomes an :class:`OtherTool`
(kept verbatim; it runs if an executor of that type is registered).
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Annotated, Any, Literal

from pydantic import ConfigDict, Discriminator, Field, Tag, ValidationInfo, field_validator

from agentspan.protocol.spec._parts import SpecPart, tag_of
from agentspan.protocol.spec.credentials import CredentialRefs
from agentspan.protocol.spec.guardrails import GuardrailSpec

if TYPE_CHECKING:
    from agentspan.protocol.spec.agent import AgentConfig

DEFAULT_TOOL_RETRIES = 2
DEFAULT_TOOL_RETRY_DELAY_SECONDS = 1.0
TOOL_NAME_PATTERN = re.compile(r"^[a-zA-Z0-9_.-]{1,128}$")

# --- config models ---------------------------------------------------------------------------


class ToolSettings(SpecPart):
    """A tool's ``config``: the base of each tool type's settings."""


class WorkerSettings(ToolSettings):
    """A function served by a worker polling the tool's name."""

    credentials: CredentialRefs | None = None


class AgentToolSettings(ToolSettings):
    """An agent run as a child execution per call; its answer is the tool result."""

    agent_config: AgentConfig | None = None
    optional: bool | None = None
    """False: a failure of the child fails the parent (default: the model sees the error)."""
    retry_count: Annotated[int, Field(ge=0)] | None = None
    retry_delay_seconds: Annotated[float, Field(ge=0)] | None = None
    credentials: CredentialRefs | None = None


class HttpSettings(ToolSettings):
    """One HTTP endpoint the server calls; ``${NAME}`` in headers names a credential."""

    url: Annotated[str, Field(min_length=1)]
    method: str | None = None
    headers: dict[str, str] | None = None
    accept: list[str] | None = None
    content_type: str | None = None
    credentials: CredentialRefs | None = None
    # Where arguments go besides ``{name}`` in the URL (the rest: the query string for
    # GET/DELETE/HEAD, else the body). Set on the tools ``api_tool`` discovery makes.
    query_params: list[str] | None = None
    """Arguments sent in the query string whatever the method."""
    header_params: list[str] | None = None
    """Arguments sent as request headers."""
    body_param: str | None = None
    """The argument whose value is the whole body (an operation whose body is not an object)."""


class _SnakeCaseSettings(ToolSettings):
    # The reference product writes these configs with snake_case keys on the wire.
    model_config = ConfigDict(alias_generator=None)


McpTransport = Literal["streamable_http", "sse", "stdio"]


class McpSettings(_SnakeCaseSettings):
    """An MCP server whose tools (all, or ``tool_names``) the model is offered.

    As sent by the SDK it stands for the whole server; when an execution starts the server
    replaces it by one tool per listed MCP tool, each with ``remote_name`` set."""

    server_url: Annotated[str, Field(min_length=1)]
    headers: dict[str, str] | None = None
    tool_names: list[str] | None = None
    max_tools: Annotated[int, Field(ge=1)] | None = None
    credentials: CredentialRefs | None = None
    transport: McpTransport | None = None
    """``None``: ``stdio`` for a ``stdio:NAME`` URL, ``sse`` for a path ending in ``/sse``,
    else streamable HTTP."""
    remote_name: str | None = None
    """Set on an expanded tool: the MCP server's own name for it (the tool's ``name`` is
    what the model sees)."""


class ApiSettings(_SnakeCaseSettings):
    """An OpenAPI / Swagger / Postman document expanded to one HTTP tool per operation."""

    url: Annotated[str, Field(min_length=1)]
    headers: dict[str, str] | None = None
    tool_names: list[str] | None = None
    max_tools: Annotated[int, Field(ge=1)] | None = None
    credentials: CredentialRefs | None = None


MAX_MESSAGE_BATCH = 100
"""The most messages one ``wait_for_message_tool`` call takes (the reference's cap)."""


class MessageWaitSettings(ToolSettings):
    """``wait_for_message_tool``: take up to ``batchSize`` messages sent to the execution
    (``send_message``), waiting for the first one unless ``blocking`` is false."""

    batch_size: Annotated[int, Field(ge=1, le=MAX_MESSAGE_BATCH)] = 1
    blocking: bool | None = None
    """``None`` (the reference sends the key only when false): blocking."""


PdfPageSize = Literal["A3", "A4", "A5", "Letter", "Legal"]
PdfTheme = Literal["default"]


class PdfSettings(ToolSettings):
    """``pdf_tool``: defaults for the call's arguments (the model's own win)."""

    task_type: str | None = None
    """``GENERATE_PDF`` as the reference sends it; not used."""
    page_size: PdfPageSize | None = None
    theme: PdfTheme | None = None
    base_font_size: Annotated[float, Field(ge=4, le=72)] | None = None


class MediaSettings(ToolSettings):
    """``image_tool`` / ``audio_tool`` / ``video_tool``: which provider and model make the
    media; any other key is a default for the call's arguments (the model's own win)."""

    task_type: str | None = None
    """``GENERATE_IMAGE`` (``_AUDIO``, ``_VIDEO``) as the reference sends it; not used."""
    llm_provider: str = ""
    model: str = ""


VECTOR_DBS = ("agentspan", "default")
"""``vectorDB`` values the server serves: its own database (``memory_entries``). The
reference product named a configured vector database here (pgvector, ...); another name is
refused at start rather than silently stored elsewhere."""
MEMORY_NAME_PATTERN = r"^[A-Za-z0-9_.:-]{1,128}$"
MAX_SEARCH_RESULTS = 50


class _RagSettings(ToolSettings):
    """What ``index_tool`` and ``search_tool`` share: where entries live and the model that
    embeds them (``embeddingModelProvider``/``embeddingModel``; none: the server's default
    ``AGENTSPAN_EMBEDDING_MODEL``, else lexical ranking)."""

    task_type: str | None = None
    """``LLM_INDEX_TEXT`` / ``LLM_SEARCH_INDEX`` as the reference sends it; not used."""
    vector_db: Annotated[str | None, Field(alias="vectorDB")] = None
    namespace: Annotated[str, Field(pattern=MEMORY_NAME_PATTERN)] = "default_ns"
    index: Annotated[str, Field(pattern=MEMORY_NAME_PATTERN)] = "default"
    embedding_model_provider: Annotated[str, Field(max_length=100)] | None = None
    embedding_model: Annotated[str, Field(max_length=200)] | None = None
    dimensions: Annotated[int, Field(ge=1, le=16_384)] | None = None

    @field_validator("vector_db")
    @classmethod
    def _served(cls, value: str | None) -> str | None:
        if value is not None and value not in VECTOR_DBS:
            raise ValueError(
                f"vectorDB {value!r} is not served by this server: use 'agentspan' "
                "(entries live in the server's own database)"
            )
        return value

    def model_string(self) -> str | None:
        """``provider/model`` of the embedding model, or None (the server's default)."""
        if not self.embedding_model:
            return None
        if self.embedding_model_provider:
            return f"{self.embedding_model_provider}/{self.embedding_model}"
        return self.embedding_model


class RagIndexSettings(_RagSettings):
    """``index_tool``: the model's ``text`` is stored under its ``docId`` (cut into chunks
    of ``chunkSize`` characters overlapping by ``chunkOverlap`` when set)."""

    chunk_size: Annotated[int, Field(ge=50, le=32_000)] | None = None
    chunk_overlap: Annotated[int, Field(ge=0)] | None = None


class RagSearchSettings(_RagSettings):
    """``search_tool``: the ``maxResults`` entries most relevant to the model's ``query``."""

    max_results: Annotated[int, Field(ge=1, le=MAX_SEARCH_RESULTS)] = 5


class HandoffSettings(ToolSettings):
    """``transfer_to_<agent>`` of a handoff parent, or a swarm member's transfer tool."""

    target: str = ""
    blocked: bool | None = None
    blocked_reason: str | None = None


# --- tools -------------------------------------------------------------------------------------


class ToolConfig(SpecPart):
    """One tool offered to the model; the base of every ``toolType`` variant."""

    name: str
    description: str = ""
    input_schema: dict[str, Any] = Field(default_factory=lambda: {"type": "object", "properties": {}})
    output_schema: dict[str, Any] | None = None
    tool_type: str = "worker"
    approval_required: bool = False
    timeout_seconds: float | None = Field(default=None, ge=0, allow_inf_nan=False)
    """Enforced by whoever runs the call; ``0`` or absent: none."""
    config: ToolSettings = Field(default_factory=ToolSettings)
    retry_count: int | None = Field(default=None, ge=0)
    """Retries after the first failed attempt (``None`` = the server default)."""
    retry_delay_seconds: float | None = Field(default=None, ge=0, allow_inf_nan=False)
    """Base delay for exponential backoff between attempts."""
    retryable: bool = True
    """``False``: after an ambiguous loss (lease expired mid-run) the tool is not re-run."""
    stateful: bool | None = None
    """The worker serving this tool is bound to one execution."""
    guardrails: list[GuardrailSpec] | None = None
    """Run inside the tool's worker, on its arguments (input) or result (output)."""
    response_schema: dict[str, Any] | None = None
    """What a person may answer when this tool waits for approval (a JSON object schema
    with a boolean ``approved``; default ``{approved, reason}``): feedback, edited
    ``arguments``, ... — ``/respond`` bodies are checked against it."""

    @field_validator("response_schema")
    @classmethod
    def _approval_schema(cls, value: dict[str, Any] | None, info: ValidationInfo) -> dict[str, Any] | None:
        if value is None:
            return None
        properties = value.get("properties")
        if value.get("type", "object") != "object" or not isinstance(properties, dict):
            raise ValueError("responseSchema must be a JSON object schema with properties")
        if info.data.get("tool_type") == "human":
            return value  # the answer to a question: any object the schema describes
        approved = properties.get("approved")
        if not isinstance(approved, dict):
            raise ValueError(
                "responseSchema must be a JSON object schema whose properties include 'approved'"
            )
        if approved.get("type", "boolean") != "boolean":
            raise ValueError("responseSchema: 'approved' must be a boolean")
        return value

    @field_validator("name")
    @classmethod
    def _valid_name(cls, value: str) -> str:
        if not value or not TOOL_NAME_PATTERN.match(value):
            raise ValueError(f"invalid tool name {value!r}: use 1-128 letters, digits, '_', '-' or '.'")
        return value


class WorkerTool(ToolConfig):
    tool_type: Literal["worker"] = "worker"
    config: WorkerSettings = Field(default_factory=WorkerSettings)


class AgentTool(ToolConfig):
    tool_type: Literal["agent_tool"] = "agent_tool"
    config: AgentToolSettings = Field(default_factory=AgentToolSettings)


class HandoffTool(ToolConfig):
    tool_type: Literal["handoff", "transfer"] = "handoff"
    config: HandoffSettings = Field(default_factory=HandoffSettings)


class HttpTool(ToolConfig):
    tool_type: Literal["http"] = "http"
    config: HttpSettings


class McpTool(ToolConfig):
    tool_type: Literal["mcp"] = "mcp"
    config: McpSettings


class ApiTool(ToolConfig):
    tool_type: Literal["api"] = "api"
    config: ApiSettings


class HumanTool(ToolConfig):
    """The operator answers; the answer is the tool result."""

    tool_type: Literal["human"] = "human"


class MessageWaitTool(ToolConfig):
    """Waits (durably, no worker) for messages sent to the execution; they are the result."""

    tool_type: Literal["pull_workflow_messages"] = "pull_workflow_messages"
    config: MessageWaitSettings = Field(default_factory=MessageWaitSettings)


class PdfTool(ToolConfig):
    """Markdown to a PDF document, made by the server (``executors/pdf_tool.py``)."""

    tool_type: Literal["generate_pdf"] = "generate_pdf"
    config: PdfSettings = Field(default_factory=PdfSettings)


class ImageTool(ToolConfig):
    """Images from a provider's image API, made by the server (``executors/media_tool.py``)."""

    tool_type: Literal["generate_image"] = "generate_image"
    config: MediaSettings = Field(default_factory=MediaSettings)


class AudioTool(ToolConfig):
    """Speech from a provider's text-to-speech API, made by the server."""

    tool_type: Literal["generate_audio"] = "generate_audio"
    config: MediaSettings = Field(default_factory=MediaSettings)


class VideoTool(ToolConfig):
    """Video from a provider's video API (no provider is wired in yet: refused at start)."""

    tool_type: Literal["generate_video"] = "generate_video"
    config: MediaSettings = Field(default_factory=MediaSettings)


MediaTool = ImageTool | AudioTool | VideoTool


class RagIndexTool(ToolConfig):
    """Stores text in the server's semantic memory (``executors/rag_tools.py``)."""

    tool_type: Literal["rag_index"] = "rag_index"
    config: RagIndexSettings = Field(default_factory=RagIndexSettings)


class RagSearchTool(ToolConfig):
    """Searches the server's semantic memory (``executors/rag_tools.py``)."""

    tool_type: Literal["rag_search"] = "rag_search"
    config: RagSearchSettings = Field(default_factory=RagSearchSettings)


class OtherTool(ToolConfig):
    """A tool type this server has no model for (media, RAG, message queue, future kinds)."""


_VARIANTS: dict[str, type[ToolConfig]] = {
    "worker": WorkerTool,
    "agent_tool": AgentTool,
    "handoff": HandoffTool,
    "transfer": HandoffTool,
    "http": HttpTool,
    "mcp": McpTool,
    "api": ApiTool,
    "human": HumanTool,
    "pull_workflow_messages": MessageWaitTool,
    "generate_pdf": PdfTool,
    "generate_image": ImageTool,
    "generate_audio": AudioTool,
    "generate_video": VideoTool,
    "rag_index": RagIndexTool,
    "rag_search": RagSearchTool,
}


_TAGS = {name: "handoff" if variant is HandoffTool else name for name, variant in _VARIANTS.items()}


def _tool_kind(value: Any) -> str:
    kind = tag_of(value, "toolType", "tool_type")
    return _TAGS.get("worker" if kind is None else str(kind), "other")


AnyTool = Annotated[
    Annotated[WorkerTool, Tag("worker")]
    | Annotated[AgentTool, Tag("agent_tool")]
    | Annotated[HandoffTool, Tag("handoff")]
    | Annotated[HttpTool, Tag("http")]
    | Annotated[McpTool, Tag("mcp")]
    | Annotated[ApiTool, Tag("api")]
    | Annotated[HumanTool, Tag("human")]
    | Annotated[MessageWaitTool, Tag("pull_workflow_messages")]
    | Annotated[PdfTool, Tag("generate_pdf")]
    | Annotated[ImageTool, Tag("generate_image")]
    | Annotated[AudioTool, Tag("generate_audio")]
    | Annotated[VideoTool, Tag("generate_video")]
    | Annotated[RagIndexTool, Tag("rag_index")]
    | Annotated[RagSearchTool, Tag("rag_search")]
    | Annotated[OtherTool, Tag("other")],
    Discriminator(_tool_kind),
]
"""What ``AgentConfig.tools`` holds: the variant named by ``toolType``."""
