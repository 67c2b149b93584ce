"""Ask your Gradio Space a question from Python, with gradio_client.

    python examples/call_the_space.py your-name/namibia-qa-demo "What is the capital of Namibia?"
    python examples/call_the_space.py http://127.0.0.1:7860/ "..."   # app.py running on your computer

This works with the Gradio kind of Space ([publish] space_kind = "gradio"): it has an API that
gradio_client calls. A static Space runs the model inside the visitor's browser and has no API
to call; use examples/use_with_transformers.py, or the GGUF file with llama.cpp or Ollama, instead.
For a private Space, set HF_TOKEN to a token that can read it.
Needs: pip install gradio_client
"""

import argparse
import os

from gradio_client import Client


def parse_arguments():
    parser = argparse.ArgumentParser(description="Ask a Gradio Space a question.")
    parser.add_argument("space", help="the Space's id (owner/name) or URL")
    parser.add_argument("question", help="what to ask, in quotes")
    return parser.parse_args()


def ask(space: str, question: str) -> str:
    client = Client(space, token=os.environ.get("HF_TOKEN"), verbose=False)
    # app.py names its chat endpoint "chat" (gr.ChatInterface(..., api_name="chat")).
    return client.predict(question, api_name="/chat")


if __name__ == "__main__":
    args = parse_arguments()
    print(ask(args.space, args.question))
