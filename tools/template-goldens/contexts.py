"""Render contexts for the template goldens (the transformers apply_chat_template kwargs)."""

SYSTEM = {"role": "system", "content": "You are terse. Answer in one line — ünïcode ok 👍."}
CHAT = [
    {"role": "user", "content": "Hi there!"},
    {"role": "assistant", "content": "Hello."},
    {"role": "user", "content": "What's 2+2?\n  Explain   briefly. "},
]
TOOLS = [
    {"type": "function", "function": {
        "name": "get_weather", "description": "Get the weather for a city — ünïcode",
        "parameters": {"type": "object", "properties": {
            "city": {"type": "string", "description": "City name"},
            "unit": {"type": "string", "enum": ["c", "f"]}}, "required": ["city"]}}},
    {"type": "function", "function": {
        "name": "add", "description": "Add two numbers",
        "parameters": {"type": "object", "properties": {
            "a": {"type": "number", "default": 1.0}, "b": {"type": "integer", "maximum": 12345678901234567890}},
            "required": ["a", "b"]}}},
]
TOOL_CHAT = [
    {"role": "user", "content": "Weather in Paris?"},
    {"role": "assistant", "content": "", "tool_calls": [
        {"id": "call12345", "type": "function", "function": {"name": "get_weather", "arguments": {"city": "Paris", "unit": "c"}}}]},
    {"role": "tool", "tool_call_id": "call12345", "name": "get_weather", "content": "{\"temp_c\": 21.5}"},
]
THINK_CHAT = [
    {"role": "user", "content": "Q1"},
    {"role": "assistant", "content": "<think>\nreasoning here\n</think>\n\nA1"},
    {"role": "user", "content": "Q2"},
]

CONTEXTS = {
    "basic": {"messages": [SYSTEM] + CHAT, "add_generation_prompt": True},
    "no_system": {"messages": CHAT, "add_generation_prompt": True},
    "no_generation_prompt": {"messages": [SYSTEM] + CHAT + [{"role": "assistant", "content": "4."}], "add_generation_prompt": False},
    "single_turn": {"messages": [{"role": "user", "content": "Hello"}], "add_generation_prompt": True},
    "tools": {"messages": TOOL_CHAT, "tools": TOOLS, "add_generation_prompt": True, "date_string": "26 Jul 2024"},
    "tools_with_system": {"messages": [SYSTEM] + TOOL_CHAT, "tools": TOOLS, "add_generation_prompt": True},
    "thinking_on": {"messages": THINK_CHAT, "add_generation_prompt": True, "enable_thinking": True},
    "thinking_off": {"messages": THINK_CHAT, "add_generation_prompt": True, "enable_thinking": False},
    "content_parts": {"messages": [
        {"role": "system", "content": [{"type": "text", "text": "Be brief."}]},
        {"role": "user", "content": [{"type": "text", "text": "Describe"}, {"type": "text", "text": " this."}]}],
        "add_generation_prompt": True},
    "not_alternating": {"messages": [{"role": "user", "content": "a"}, {"role": "user", "content": "b"}], "add_generation_prompt": True},
    "parallel_tool_calls": {"messages": [
        {"role": "user", "content": "Weather in Paris and Rome?"},
        {"role": "assistant", "content": "Checking both.", "tool_calls": [
            {"id": "call00001", "type": "function", "function": {"name": "get_weather", "arguments": {"city": "Paris"}}},
            {"id": "call00002", "type": "function", "function": {"name": "get_weather", "arguments": "{\"city\": \"Rome\"}"}}]},
        {"role": "tool", "tool_call_id": "call00001", "content": "21"},
        {"role": "tool", "tool_call_id": "call00002", "content": {"temp_c": 25, "sky": "clear"}},
        {"role": "assistant", "content": "Paris 21, Rome 25."}],
        "tools": TOOLS, "add_generation_prompt": False},
    "reasoning_content": {"messages": [
        {"role": "user", "content": "Q1"},
        {"role": "assistant", "content": "A1", "reasoning_content": "think about Q1"},
        {"role": "user", "content": "Q2"},
        {"role": "assistant", "content": "A2", "reasoning_content": "think about Q2"}],
        "add_generation_prompt": False, "enable_thinking": True},
    "assistant_first": {"messages": [{"role": "assistant", "content": "a"}, {"role": "user", "content": "b"}], "add_generation_prompt": False},
}

# bos/eos as each model's tokenizer_config.json defines them.
TEMPLATES = {
    "llama-3": ("<|begin_of_text|>", "<|end_of_text|>"),
    "llama-3.1": ("<|begin_of_text|>", "<|eot_id|>"),
    "llama-3.2": ("<|begin_of_text|>", "<|eot_id|>"),
    "qwen2.5": ("", "<|im_end|>"),
    "qwen3": ("", "<|im_end|>"),
    "gemma3": ("<bos>", "<end_of_turn>"),
    "mistral-v0.1": ("<s>", "</s>"),
    "mistral-v0.3": ("<s>", "</s>"),
    "mistral-nemo": ("<s>", "</s>"),
    "phi-3.5": ("<s>", "<|endoftext|>"),
    "phi-4": ("<|endoftext|>", "<|im_end|>"),
    "smollm2": ("<|im_start|>", "<|im_end|>"),
    "smollm3": ("", "<|im_end|>"),
    "deepseek-r1": ("<｜begin▁of▁sentence｜>", "<｜end▁of▁sentence｜>"),
    "command-r": ("<BOS_TOKEN>", "<|END_OF_TURN_TOKEN|>"),
    # the embedded default model's template (tools/agent-corpus/chat_template.jinja)
    "default-agent": ("<|bos|>", "<|eos|>"),
}
