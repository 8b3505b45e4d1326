"""ALSATE's hyperparameters as TOML text: the defaults every config file overrides.

Kept as a string in a module so it ships with any install of the package
(``alsate-train defaults`` prints it, ready to copy into a config file).
"""

DEFAULTS_TOML = """\
# alsate-train defaults: ALSATE's hyperparameters (LoRA r=16, alpha=32, dropout 0.05,
# lr 2e-4, max_seq 512, paged_adamw_32bit under QLoRA). A config file passed with
# --config overrides any of these keys; a key not listed here is an error.

# --- data ---
dataset = ""                # "" = the curated dataset shipped in alsate.assets/dataset
profile = "smollm2"         # engine model profile whose system prompt and prompts are trained
seed = 42
split = [0.8, 0.1, 0.1]     # train, validation, test, by template
frozen_split = true         # keep the templates a dataset directory's splits.json names in their split

# --- model ---
base_model = ""             # "" = the embedded SmolLM2-135M-Instruct GGUF; or a .gguf file, a HF directory or hub id
output_dir = "runs/alsate"

# --- LoRA ---
lora_r = 16
lora_alpha = 32
lora_dropout = 0.05
target_modules = ["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"]
lora_top_layers = 0         # > 0: adapt only the top N transformer layers (backward stops there: faster on CPU)
qlora = "auto"              # "auto": QLoRA (NF4, double quant) with CUDA; "on": also on CPU (bitsandbytes' CPU backend); "off"

# --- training ---
init_adapter = ""           # "" = a fresh adapter; or go on training this one: a PEFT adapter directory or a GGUF
                            # LoRA (e.g. the shipped assets/adapter/smollm2-135m-alsate.gguf); its rank, alpha and
                            # target modules replace lora_r, lora_alpha and target_modules
train_files = []            # [] = train on the whole train split; or only the train examples of these dataset
                            # files (e.g. a new harvest), plus `replay` of the others
replay = 1.0                # with train_files: other train examples mixed in per focus example (seeded sample)
max_seq = 512
learning_rate = 2e-4
epochs = 3.0
max_steps = -1              # > 0 overrides epochs
batch_size = 4
grad_accum = 4
group_by_length = true      # batch examples of similar length together: less padding, same examples per epoch
warmup_ratio = 0.03
lr_scheduler = "cosine"
weight_decay = 0.0
optim = "auto"              # "auto": paged_adamw_32bit under QLoRA, adamw_torch under plain LoRA
bf16 = "auto"               # bf16 autocast: "auto" = with CUDA (bf16-capable) or QLoRA; "on" also on CPU (fast with
                            # AMX, with lora_dropout = 0: docs/training.md); "off"
eval_steps = 50
eval_max_examples = 0       # 0 = the whole validation split for eval during training
early_stopping_patience = 3
logging_steps = 10
max_minutes = 0.0           # > 0: stop training after this many minutes (the best checkpoint so far is kept)
threads = 0                 # torch threads on CPU, 0 = torch's default
wandb = false
wandb_project = "alsate"

# --- evaluation ---
eval_max_new_tokens = 448     # as the smollm2 profile: the last 64 finish an answer in format (CLOSING_TOKENS); the longest in the dataset (root cause) are ~330
eval_limit = 0              # 0 = the whole test split
eval_threads = 0            # llama.cpp threads, 0 = all cores

# --- export ---
adapter_name = "smollm2-135m-alsate.gguf"
adapter_dtype = "f16"       # f16 or f32
fidelity_prompts = 20       # test prompts for the greedy next-token agreement check
fidelity_tokens = 16        # greedy tokens compared per prompt
quantize = ""               # "" = adapter only; "q4_k_m" also writes the merged model as F16 and Q4_K_M GGUF
"""
