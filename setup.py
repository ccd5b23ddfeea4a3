import os
import os.path as osp
import warnings

from setuptools import find_packages, setup


def get_version() -> str:
    namespace: dict = {}
    with open(osp.join(osp.dirname(__file__), 'mmmtl', 'version.py')) as f:
        exec(compile(f.read(), 'mmmtl/version.py', 'exec'), namespace)
    return namespace['__version__']


def parse_requirements(fname: str) -> list:
    """Read a requirements file, skipping comments and blank lines."""
    path = osp.join(osp.dirname(__file__), fname)
    with open(path) as f:
        lines = [line.split('#')[0].strip() for line in f]
    return [line for line in lines if line]


def cs_kernel_build() -> dict:
    """The CPU kernel of CSDivergenceLoss (optional: mmmtl works without it).

    Built when torch is importable at build time (``pip install
    --no-build-isolation``) unless ``MMMTL_WITH_OPS=0``; a failed compile is
    a warning, and the loss then uses its PyTorch path.
    """
    if os.getenv('MMMTL_WITH_OPS', '1') == '0':
        return {}
    try:
        from torch.utils.cpp_extension import BuildExtension, CppExtension
    except ImportError:
        warnings.warn('torch is not importable at build time: the CS loss kernel is not built '
                      '(install with --no-build-isolation to build it).')
        return {}

    class OptionalBuildExtension(BuildExtension):

        def build_extension(self, ext) -> None:
            try:
                super().build_extension(ext)
            except Exception as error:  # compiler missing or unsupported: keep the install
                warnings.warn(f'{ext.name} was not built ({error}); CSDivergenceLoss uses its '
                              'PyTorch path.')

    kernel = CppExtension(
        'mmmtl.models.losses._cs_softmax_sums',
        ['mmmtl/models/losses/csrc/cs_softmax_sums.cpp'],
        extra_compile_args=['-O3', '-fopenmp', '-Wno-psabi'],
        extra_link_args=['-fopenmp'])
    return dict(ext_modules=[kernel], cmdclass={'build_ext': OptionalBuildExtension})


if __name__ == '__main__':
    setup(
        name='mmmtl',
        version=get_version(),
        description='Multi-task dense prediction with knowledge distillation '
        '(KDAM) for OpenMMLab 2.x',
        long_description=open('README.md', encoding='utf-8').read(),
        long_description_content_type='text/markdown',
        keywords='multi-task learning, knowledge distillation, dense prediction',
        packages=find_packages(exclude=('configs', 'tools', 'tests', 'docs')),
        include_package_data=True,
        python_requires='>=3.8',
        license='Apache License 2.0',
        install_requires=parse_requirements('requirements/runtime.txt'),
        extras_require={
            'tests': parse_requirements('requirements/tests.txt'),
            'optional': parse_requirements('requirements/optional.txt'),
        },
        zip_safe=False,
        **cs_kernel_build())
