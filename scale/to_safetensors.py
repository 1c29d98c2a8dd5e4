"""Convert a checkpoint's pytorch_model.bin (a torch.save'd state dict) into model.safetensors for `gpt-lab import`.

    python3 scale/to_safetensors.py FOLDER     # writes FOLDER/model.safetensors (F32), the .bin is left as it is

Only floating-point tensors are kept (GPT-2's old `attn.bias` masks are skipped by the import anyway). The .bin is
read with weights_only=True: a pickle can run code, and a state dict needs none.
"""
import os
import sys

import torch

from model import write_safetensors


def main():
    folder = sys.argv[1]
    state = torch.load(os.path.join(folder, 'pytorch_model.bin'), map_location='cpu', weights_only=True)
    tensors = {k: v for k, v in state.items() if torch.is_tensor(v) and v.is_floating_point()}
    write_safetensors(os.path.join(folder, 'model.safetensors'), tensors, {'format': 'pt'})
    print(f'{len(tensors)} tensors written to {os.path.join(folder, "model.safetensors")}')


if __name__ == '__main__':
    main()
