#!/bin/sh
# Ask the tuned model one question over plain HTTP, the OpenAI chat API that `make serve` answers.
#
#   make serve                              # in one terminal
#   sh examples/chat_with_curl.sh "Which city is the seat of Namibia's central government?"
#
# The model's name is what the server lists at /v1/models (make serve prints it too).
# Any language with an HTTP client can send the same request; the answer is in choices[0].message.content.
set -eu
BASE_URL="${BASE_URL:-http://127.0.0.1:8000/v1}"
MODEL="${MODEL:-outputs/export/merged}"
QUESTION="${1:-Which city is the seat of Namibia's central government?}"
# The question goes into JSON, so quotes and backslashes in it are escaped first.
ESCAPED=$(printf '%s' "$QUESTION" | sed 's/\\/\\\\/g; s/"/\\"/g')

curl --silent --show-error --fail "$BASE_URL/chat/completions" \
  -H "Content-Type: application/json" \
  -d "{\"model\": \"$MODEL\", \"temperature\": 0, \"max_tokens\": 48,
       \"messages\": [{\"role\": \"user\", \"content\": \"$ESCAPED\"}]}"
echo
