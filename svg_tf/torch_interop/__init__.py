"""Everything that reads PyTorch's files, in one place, all of it treating them as hostile.

    safe_pickle.py          the one reader of untrusted pickles (allow-lists, bounds)
    torch_file.py           PyTorch's legacy (0.3/0.4) and zip formats, checked tensor views
    authors_checkpoint.py   the authors' SVG checkpoints -> svg_tf run directories
    lpips_weights.py        torchvision's AlexNet + the lpips package's heads -> one .npz

None of it needs PyTorch; the tests check the conversions against what PyTorch computes.
"""
