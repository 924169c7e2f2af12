"""FID's own noise at 500 samples: random subsets of real training images.

Writes 500 MNIST-5k training images (rows whose index is not 9 mod 10, the
test split being the others), drawn by Python's random.sample with seeds
0-4, as float64 .npy files in [0, 1] (no numpy needed), and the 500 test
images (50 of each class); and class-balanced subsets, 50 random training
images of each class per seed, as a class-conditional sampler drawing the
classes in turn produces them; then score each subset as genlab scores a
sampler:

    python3 docs/reference/fid_floor_subsets.py OUT
    for s in 0 1 2 3 4; do
      genlab eval fid --real OUT/test.npy --fake OUT/train-rand$s.npy --features mnist
      genlab eval fid --real OUT/test.npy --fake OUT/train-bal$s.npy --features mnist
    done

docs/diffusion.md ("Latent against pixel in one run") quotes the results.
"""

import gzip
import os
import random
import struct
import sys

DATA = os.path.join(os.path.dirname(__file__), "../../crates/gen-data/data/mnist_5k.csv.gz")


def write_npy(path, rows):
    header = "{'descr': '<f8', 'fortran_order': False, 'shape': (%d, 784), }" % len(rows)
    header += " " * (64 - (10 + len(header) + 1) % 64) + "\n"
    with open(path, "wb") as out:
        out.write(b"\x93NUMPY\x01\x00" + struct.pack("<H", len(header)) + header.encode())
        for r in rows:
            out.write(struct.pack("<784d", *[float(v) / 255 for v in r[:784]]))


def main():
    out = sys.argv[1] if len(sys.argv) > 1 else "runs/fid-floor"
    os.makedirs(out, exist_ok=True)
    with gzip.open(DATA, "rt") as f:
        rows = [line.strip().split(",") for line in f]
    rows = [r for r in rows if r[0].replace(".", "").isdigit()]
    train = [r for i, r in enumerate(rows) if i % 10 != 9]
    test = [r for i, r in enumerate(rows) if i % 10 == 9]
    write_npy(os.path.join(out, "test.npy"), test)
    for seed in range(5):
        random.seed(seed)
        write_npy(os.path.join(out, f"train-rand{seed}.npy"), random.sample(train, 500))
    # The label is the last of the 785 columns.
    for seed in range(5):
        random.seed(seed)
        balanced = []
        for y in range(10):
            balanced += random.sample([r for r in train if int(r[784]) == y], 50)
        write_npy(os.path.join(out, f"train-bal{seed}.npy"), balanced)


if __name__ == "__main__":
    main()
