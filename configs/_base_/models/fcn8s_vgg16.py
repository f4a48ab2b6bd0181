# FCN-8s with VGG16: the network of Long, Shelhamer and Darrell (CVPR 2015) as the
# released Caffe models build it ("Caffe-exact"): conv1_1 padded by 100, ceil-mode
# pools, fc6/fc7 as 7x7 (valid) and 1x1 convolutions with dropout 0.5, score layers on
# fc7, pool4 and pool3 fused through bilinear-initialised transposed convs, and crops
# at the fixed offsets (pool4 5, pool3 9, output 31), so the logits have the input's
# size. Inputs are BGR minus the Caffe mean, not scaled (std 1).
# num_classes=21 (Pascal VOC). No auxiliary head (the paper has none).
caffe_mean = [104.00699, 116.66877, 122.67892]
data_preprocessor = dict(
    type='SegDataPreProcessor',
    mean=caffe_mean,
    std=[1.0, 1.0, 1.0],
    bgr_to_rgb=False,
    pad_val=0,
    seg_pad_val=255)
model = dict(
    type='EncoderDecoder',
    data_preprocessor=data_preprocessor,
    # torchvision's ImageNet VGG16 (a local file, vgg16-397923af.pth; never
    # downloaded); its conv1_1 is adapted to the Caffe-normalised BGR inputs
    pretrained='torchvision://vgg16',
    backbone=dict(
        type='VGG',
        depth=16,
        out_indices=(2, 3, 5),  # pool3, pool4, fc7
        first_conv_padding=100,
        ceil_mode=True,
        fc_channels=4096,
        fc6_kernel_size=7,
        fc6_padding=0,
        fc_dropout=0.5,
        return_input=True,  # the head crops its output to the image's size
        # no norm_cfg: VGG16 has no BN (a leaf may set one, e.g. the BN demo)
        input_norm_cfg=dict(mean=caffe_mean, std=[1.0, 1.0, 1.0], bgr=True)),
    decode_head=dict(
        type='FCNSkipHead',
        arch='8s',
        alignment='caffe',
        in_channels=(3, 256, 512, 4096),  # image, pool3, pool4, fc7
        in_index=(0, 1, 2, 3),
        input_transform='multiple_select',
        channels=4096,
        dropout_ratio=0.0,
        num_classes=21,
        frozen_upsample='last',
        align_corners=False,
        loss_decode=dict(
            type='CrossEntropyLoss', use_sigmoid=False, loss_weight=1.0)),
    # model training and testing settings
    train_cfg=dict(),
    test_cfg=dict(mode='whole'))
