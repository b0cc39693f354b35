"""Install mmdsb; OpenMMLab packages are listed for mim in mminstall.txt."""
import os.path as osp

from setuptools import find_packages, setup

HERE = osp.dirname(osp.abspath(__file__))


def get_version():
    """Read ``__version__`` without importing the package (and torch)."""
    namespace = {}
    with open(osp.join(HERE, 'mmdsb', 'version.py')) as f:
        exec(compile(f.read(), 'version.py', 'exec'), namespace)
    return namespace['__version__']


def parse_requirements(name):
    """Requirement lines of ``requirements/<name>``, comments dropped."""
    path = osp.join(HERE, 'requirements', name)
    requirements = []
    with open(path) as f:
        for line in f:
            line = line.split('#', 1)[0].strip()
            if line.startswith('-'):
                raise ValueError(f'{path}: pip option {line!r} cannot be '
                                 'expressed as a package requirement')
            if line:
                requirements.append(line)
    return requirements


if __name__ == '__main__':
    setup(
        name='mmdsb',
        version=get_version(),
        description='Dynamic Semantic-Scale-Balanced learning for '
        'OpenMMLab (mmpretrain and mmdet)',
        long_description='Semantic-scale-balanced re-weighting for '
        'long-tailed image classification and object detection, as an '
        'mmpretrain and mmdet plugin.',
        keywords='computer vision, long-tailed classification, '
        'long-tailed detection, mmpretrain, mmdet',
        packages=find_packages(include=('mmdsb', 'mmdsb.*')),
        python_requires='>=3.10',
        classifiers=[
            'Programming Language :: Python :: 3',
            'Topic :: Scientific/Engineering :: Artificial Intelligence',
        ],
        install_requires=parse_requirements('runtime.txt'),
        extras_require={
            'all': parse_requirements('runtime.txt') +
            parse_requirements('optional.txt') +
            parse_requirements('tests.txt'),
            'tests': parse_requirements('tests.txt'),
            'optional': parse_requirements('optional.txt'),
            'mim': parse_requirements('mminstall.txt'),
            # mmdet also needs mmcv 2.1.0 built with its ops (README).
            'det': parse_requirements('det.txt'),
        },
        zip_safe=False)
