"""Use your fine-tuned model from Python: load the base model, attach the LoRA adapter, ask a question.

    python examples/use_with_transformers.py "What is the capital of Namibia?"
    python examples/use_with_transformers.py --adapter your-name/namibia-qa "..."   # the published adapter
    python examples/use_with_transformers.py --adapter outputs/train/adapter "..."  # before publishing

--base and --adapter each take a Hugging Face Hub id or a local folder. Without internet, point
--base at a local copy (`python -m scripts.model` prints where the project keeps the default one).
Needs: pip install torch transformers peft
"""

import argparse

import torch
from peft import PeftModel
from transformers import AutoModelForCausalLM, AutoTokenizer


def parse_arguments():
    parser = argparse.ArgumentParser(description="Answer a question with a base model + LoRA adapter.")
    parser.add_argument("question", help="what to ask, in quotes")
    parser.add_argument("--base", default="HuggingFaceTB/SmolLM2-135M-Instruct", help="base model: Hub id or folder")
    parser.add_argument("--adapter", default="outputs/train/adapter", help="LoRA adapter: Hub id or folder")
    parser.add_argument("--max-new-tokens", type=int, default=48, help="longest answer, in tokens")
    return parser.parse_args()


def load_tuned_model(base: str, adapter: str):
    tokenizer = AutoTokenizer.from_pretrained(base)
    model = AutoModelForCausalLM.from_pretrained(base, dtype=torch.float32)
    model = PeftModel.from_pretrained(model, adapter)  # the adapter's small matrices, added to the base
    return model.eval(), tokenizer


def answer(model, tokenizer, question: str, max_new_tokens: int) -> str:
    # The chat template wraps the question exactly as in training (roles, special tokens).
    prompt = tokenizer.apply_chat_template(
        [{"role": "user", "content": question}], add_generation_prompt=True, return_tensors="pt", return_dict=True
    )
    with torch.no_grad():
        output = model.generate(
            **prompt,
            max_new_tokens=max_new_tokens,
            do_sample=False,  # greedy: the same question always gets the same answer
            pad_token_id=tokenizer.pad_token_id if tokenizer.pad_token_id is not None else tokenizer.eos_token_id,
            eos_token_id=tokenizer.eos_token_id,
        )
    new_tokens = output[0, prompt["input_ids"].shape[1] :]  # drop the prompt, keep the answer
    return tokenizer.decode(new_tokens, skip_special_tokens=True).strip()


if __name__ == "__main__":
    args = parse_arguments()
    model, tokenizer = load_tuned_model(args.base, args.adapter)
    print(answer(model, tokenizer, args.question, args.max_new_tokens))
