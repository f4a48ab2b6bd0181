# FCN with torchvision's ConvNeXt-Tiny. ConvNeXt downsamples with 2x2 patchify convolutions,
# which dilation cannot replace, so this runs at output stride 32: a 480x480 input gives
# 15x15 logits (upsampled to the image size by the segmentor). Stage channels
# (96, 192, 384, 768): stage 3 (384) feeds the auxiliary head, stage 4 (768) the decode head.
# The schedule is the base one (SGD); ConvNeXt is usually fine-tuned with AdamW.
_base_ = './fcn_r50-d8_480x480_voc.py'
model = dict(
    pretrained=None,
    backbone=dict(
        _delete_=True,
        type='TorchvisionBackbone',
        model_name='convnext_tiny',
        # ImageNet weights from a local torchvision file (nothing is downloaded), e.g.
        # weights='~/.cache/torch/hub/checkpoints/convnext_tiny-983f1562.pth',
        weights=None,
        out_indices=(0, 1, 2, 3),
        output_stride=32,
        frozen_stages=-1,
        norm_eval=False),
    decode_head=dict(in_channels=768),
    auxiliary_head=dict(in_channels=384))
